import { homedir } from 'node:os';
import { ValidationError } from '@bp/provider';
import { describe, expect, it } from 'vitest';
import { resolveDockerTarget } from './docker-connection.js';

describe('resolveDockerTarget', () => {
  it('defaults to the local socket', () => {
    expect(resolveDockerTarget({}, {})).toMatchObject({
      socketPath: '/var/run/docker.sock',
      isLocal: true,
      description: 'unix:///var/run/docker.sock',
    });
  });

  it('reads DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH like the docker CLI', () => {
    const env = { DOCKER_HOST: 'tcp://203.0.113.5:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' };
    expect(resolveDockerTarget({}, env)).toMatchObject({
      hostname: '203.0.113.5',
      port: 2376,
      isLocal: false,
      source: 'DOCKER_HOST',
      tls: { ca: '/certs/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem' },
    });
    // Port 2376 means TLS, with ~/.docker as the default certificate directory.
    expect(resolveDockerTarget({}, { DOCKER_HOST: 'tcp://203.0.113.5:2376' }).tls?.ca).toBe(
      `${homedir()}/.docker/ca.pem`,
    );
    expect(resolveDockerTarget({}, { DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }).socketPath).toBe(
      '/run/user/1000/docker.sock',
    );
  });

  it('verifies TLS even when DOCKER_TLS asks for it without verification', () => {
    const target = resolveDockerTarget({}, { DOCKER_HOST: 'tcp://203.0.113.5:2300', DOCKER_TLS: '1' });
    expect(target.tls?.ca).toBe(`${homedir()}/.docker/ca.pem`);
  });

  it('prefers settings (cloud.toml host and tls) over the environment, and expands ~/', () => {
    const target = resolveDockerTarget(
      {
        host: 'tcp://203.0.113.5:2376',
        tls: { ca: '~/.bp/ca.pem', cert: '~/.bp/cert.pem', key: '~/.bp/key.pem' },
      },
      { DOCKER_HOST: 'unix:///elsewhere.sock' },
    );
    expect(target).toMatchObject({ source: 'settings', tls: { ca: `${homedir()}/.bp/ca.pem` } });
  });

  it('refuses TLS without a CA, plain TCP to a remote engine, and ssh://', () => {
    expect(() => resolveDockerTarget({ host: 'tcp://203.0.113.5:2376', tls: { ca: '' } })).toThrow(/tls.ca/);
    expect(() => resolveDockerTarget({ host: 'tcp://203.0.113.5:2375' })).toThrow(ValidationError);
    expect(() => resolveDockerTarget({}, { DOCKER_HOST: 'tcp://203.0.113.5:2375' })).toThrow(/plain TCP/);
    expect(() => resolveDockerTarget({ host: 'ssh://deploy@203.0.113.5' })).toThrow(/provider-ssh/);
    expect(() => resolveDockerTarget({ host: 'tcp://x:1', tls: { ca: 'ca.pem', cert: 'c.pem' } })).toThrow(
      /together/,
    );
  });

  it('allows plain HTTP to a loopback engine (e.g. an SSH tunnel)', () => {
    expect(resolveDockerTarget({ host: 'tcp://127.0.0.1:2375' })).toMatchObject({
      isLocal: true,
      tls: undefined,
    });
  });
});
