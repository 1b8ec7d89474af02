import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  fingerprint,
  hostKeyAlgorithms,
  hostMatches,
  keyTypeOf,
  knownHostName,
  parseKnownHosts,
  verifyHostKey,
} from './known-hosts.js';

const workDir = mkdtempSync(join(tmpdir(), 'bp-known-hosts-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** A real key made by ssh-keygen: `[type, base64]`, and what ssh-keygen says its fingerprint is. */
function newKey(type: 'ed25519' | 'rsa', name: string): { line: string; blob: Buffer; fingerprint: string } {
  const path = join(workDir, name);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    '-N',
    '',
    '-f',
    path,
    ...(type === 'rsa' ? ['-b', '2048'] : []),
  ]);
  const [keyType, base64] = readFileSync(`${path}.pub`, 'utf8').trim().split(/\s+/);
  const printed = execFileSync('ssh-keygen', ['-l', '-f', `${path}.pub`], { encoding: 'utf8' }).split(
    ' ',
  )[1]!;
  return { line: `${keyType} ${base64}`, blob: Buffer.from(base64!, 'base64'), fingerprint: printed };
}

const first = newKey('ed25519', 'first');
const second = newKey('ed25519', 'second');
const rsa = newKey('rsa', 'rsa');

describe('known_hosts', () => {
  it('computes fingerprints and key types as ssh-keygen does', () => {
    expect(fingerprint(first.blob)).toBe(first.fingerprint);
    expect(fingerprint(rsa.blob)).toBe(rsa.fingerprint);
    expect(keyTypeOf(first.blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(rsa.blob)).toBe('ssh-rsa');
  });

  it('names hosts on other ports [host]:port', () => {
    expect(knownHostName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(knownHostName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
    expect(knownHostName('::1', 2222)).toBe('[::1]:2222');
  });

  it('matches patterns: lists, wildcards, negation, case', () => {
    expect(hostMatches('a.example,b.example', 'b.example')).toBe(true);
    expect(hostMatches('*.example', 'Host.EXAMPLE')).toBe(true);
    expect(hostMatches('10.0.0.?', '10.0.0.7')).toBe(true);
    expect(hostMatches('10.0.0.?', '10.0.0.17')).toBe(false);
    expect(hostMatches('*.example,!bad.example', 'bad.example')).toBe(false);
    expect(hostMatches('[10.0.0.1]:2222', '[10.0.0.1]:2222')).toBe(true);
    expect(hostMatches('10.0.0.1', '[10.0.0.1]:2222')).toBe(false);
    expect(hostMatches('10.0.0.1', '10.0.0.10')).toBe(false);
  });

  it('matches hashed names written by ssh-keygen -H', () => {
    const path = join(workDir, 'hashed_known_hosts');
    writeFileSync(path, `10.1.2.3 ${first.line}\n[10.1.2.3]:2222 ${second.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', path], { stdio: 'ignore' });
    const entries = parseKnownHosts(readFileSync(path, 'utf8'));
    expect(entries.every((entry) => entry.patterns.startsWith('|1|'))).toBe(true);
    expect(verifyHostKey(entries, '10.1.2.3', first.blob).status).toBe('known');
    expect(verifyHostKey(entries, '[10.1.2.3]:2222', second.blob).status).toBe('known');
    expect(verifyHostKey(entries, '10.1.2.4', first.blob).status).toBe('unknown');
  });

  it('tells known, unknown, changed (with both fingerprints) and revoked keys apart', () => {
    const entries = parseKnownHosts(
      [
        '# comment',
        '',
        `10.0.0.1,host-one ${first.line} comment here`,
        `@cert-authority *.example ${second.line}`,
        `@revoked 10.0.0.3 ${second.line}`,
        `10.0.0.3 ${first.line}`,
        'garbage',
      ].join('\n'),
    );
    expect(verifyHostKey(entries, 'host-one', first.blob)).toEqual({ status: 'known' });
    expect(verifyHostKey(entries, '10.0.0.2', first.blob)).toEqual({
      status: 'unknown',
      presented: { keyType: 'ssh-ed25519', fingerprint: first.fingerprint },
    });
    expect(verifyHostKey(entries, '10.0.0.1', second.blob)).toEqual({
      status: 'changed',
      presented: { keyType: 'ssh-ed25519', fingerprint: second.fingerprint },
      expected: [{ keyType: 'ssh-ed25519', fingerprint: first.fingerprint }],
    });
    expect(verifyHostKey(entries, '10.0.0.3', second.blob).status).toBe('revoked');
    // A CA line is no host key: the host stays unknown.
    expect(verifyHostKey(entries, 'a.example', second.blob).status).toBe('unknown');
  });

  it('offers the host key algorithms known_hosts holds for the host first', () => {
    const entries = parseKnownHosts(`10.0.0.1 ${rsa.line}\n10.0.0.2 ${first.line}\n`);
    expect(hostKeyAlgorithms(entries, '10.0.0.1').slice(0, 3)).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
    expect(hostKeyAlgorithms(entries, '10.0.0.2')[0]).toBe('ssh-ed25519');
    expect(hostKeyAlgorithms(entries, '10.0.0.9')).toHaveLength(7);
  });

  it('records a trusted key in a new 0600 file, in a form ssh-keygen can find', async () => {
    const path = join(workDir, 'dir', 'known_hosts');
    await appendKnownHost(path, '[10.0.0.5]:2222', first.blob);
    await appendKnownHost(path, '10.0.0.6', second.blob);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const found = execFileSync('ssh-keygen', ['-F', '[10.0.0.5]:2222', '-f', path], { encoding: 'utf8' });
    expect(found).toContain(first.line);
    const entries = parseKnownHosts(readFileSync(path, 'utf8'));
    expect(verifyHostKey(entries, '10.0.0.6', second.blob).status).toBe('known');
  });
});
