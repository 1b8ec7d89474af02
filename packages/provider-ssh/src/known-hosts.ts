// OpenSSH known_hosts: plain and hashed (`|1|salt|hash`) host patterns, `[host]:port` names, `*`/`?`
// wildcards, `!` negations and the `@revoked` marker (`@cert-authority` lines are ignored: no certificates).
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface KnownHostEntry {
  marker?: 'revoked' | 'cert-authority';
  /** The host pattern field: comma-separated patterns, or one hashed name. */
  patterns: string;
  keyType: string;
  /** Base64 of the key blob. */
  key: string;
}

/** What the host presented, for messages. */
export interface PresentedKey {
  keyType: string;
  fingerprint: string;
}

export type HostKeyVerdict =
  | { status: 'known' }
  | { status: 'unknown'; presented: PresentedKey }
  | { status: 'changed'; presented: PresentedKey; expected: PresentedKey[] }
  | { status: 'revoked'; presented: PresentedKey };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) continue;
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields.shift() === '@revoked' ? 'revoked' : 'cert-authority';
    }
    const [patterns, keyType, key] = fields;
    if (patterns && keyType && key) entries.push({ marker, patterns, keyType, key });
  }
  return entries;
}

/** The name a host is looked up (and recorded) under: `host` on port 22, else `[host]:port`. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** True when the entry's pattern field selects `name` (OpenSSH rules: a matching negation wins). */
export function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (!wildcardMatch(negated ? pattern.slice(1) : pattern, name.toLowerCase())) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const source = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${source}$`).test(name);
}

/** `SHA256:<base64 without padding>`, as `ssh-keygen -l` prints it. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob, e.g. `ssh-ed25519`. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + length).toString('latin1') || 'unknown';
}

/**
 * Checks the key a host presented against known_hosts. Any entry for the host that holds this key makes it
 * known; entries for the host that all hold other keys make it changed (refused, whatever the settings).
 */
export function verifyHostKey(entries: KnownHostEntry[], name: string, keyBlob: Buffer): HostKeyVerdict {
  const key = keyBlob.toString('base64');
  const presented = { keyType: keyTypeOf(keyBlob), fingerprint: fingerprint(keyBlob) };
  const forHost = entries.filter(
    (entry) => entry.marker !== 'cert-authority' && hostMatches(entry.patterns, name),
  );
  if (forHost.some((entry) => entry.marker === 'revoked' && entry.key === key))
    return { status: 'revoked', presented };
  const plain = forHost.filter((entry) => entry.marker === undefined);
  if (plain.some((entry) => entry.key === key)) return { status: 'known' };
  if (!plain.length) return { status: 'unknown', presented };
  const expected = plain.map((entry) => {
    const blob = Buffer.from(entry.key, 'base64');
    return { keyType: entry.keyType, fingerprint: fingerprint(blob) };
  });
  return { status: 'changed', presented, expected };
}

// ssh2's defaults, in its order of preference.
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
] as const;
export type HostKeyAlgorithm = (typeof HOST_KEY_ALGORITHMS)[number];

/**
 * Host key algorithms with the types known_hosts holds for this host first, as OpenSSH orders them: a host
 * with an RSA and an Ed25519 key, known only by its RSA key, must present the RSA one.
 */
export function hostKeyAlgorithms(entries: KnownHostEntry[], name: string): HostKeyAlgorithm[] {
  const known = new Set(
    entries
      .filter((entry) => entry.marker === undefined && hostMatches(entry.patterns, name))
      .flatMap((entry) =>
        entry.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [entry.keyType],
      ),
  );
  return [
    ...HOST_KEY_ALGORITHMS.filter((algorithm) => known.has(algorithm)),
    ...HOST_KEY_ALGORITHMS.filter((algorithm) => !known.has(algorithm)),
  ];
}

export async function readKnownHosts(path: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Records a host key the user chose to trust (mode 0600 when the file is created). */
export async function appendKnownHost(path: string, name: string, keyBlob: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const existing = await readFile(path, 'utf8').catch(() => '');
  const separator = existing && !existing.endsWith('\n') ? '\n' : '';
  await appendFile(path, `${separator}${name} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}\n`, {
    mode: 0o600,
  });
}
