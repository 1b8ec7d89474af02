// Security on the real TLS listener: only a client with a certificate signed by the engine's CA gets in,
// the engine's own certificate is always verified, and errors name files, never their contents.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { CredentialsError, type DeployOptionsV1, ProviderCallError, ValidationError } from '@bp/provider';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDockerProvider, type DockerProviderSettings } from '../src/index.js';
import { context, deployOptions, expectNothingLeft, hello, tlsProvider } from './fixtures.js';

const { tls } = context;

afterEach(() => {
  vi.unstubAllEnvs();
});

/** Deploys with the settings and returns what it threw (or fails if it did not). */
async function refusedDeploy(
  settings: DockerProviderSettings,
): Promise<{ error: Error; options: DeployOptionsV1 }> {
  const options = deployOptions(hello());
  const provider = createDockerProvider({ ttlSidecarImage: context.images.busybox, ...settings });
  const error = await provider.deployInstance(options).then(
    () => {
      throw new Error('the deploy was not refused');
    },
    (caught: Error) => caught,
  );
  await expectNothingLeft(options.deploymentId);
  // A PEM file's contents never reach a message.
  expect(error.message).not.toMatch(/BEGIN|PRIVATE KEY/);
  return { error, options };
}

describe('TLS to the engine', () => {
  it('is refused with a client certificate the engine does not trust', async () => {
    const { error } = await refusedDeploy({
      host: context.tlsHost,
      tls: { ca: tls.ca, cert: tls.untrustedCert, key: tls.untrustedKey },
    });
    if (context.tlsTerminator === 'dockerd') {
      expect(CredentialsError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toContain(tls.untrustedCert);
    } else {
      // The test-infra TLS proxy (Node) resets the connection instead of sending dockerd's alert.
      expect(CredentialsError.isInstance(error) || ProviderCallError.isInstance(error), String(error)).toBe(
        true,
      );
    }
  });

  it('is refused without a client certificate', async () => {
    const { error } = await refusedDeploy({ host: context.tlsHost, tls: { ca: tls.ca } });
    expect(CredentialsError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toMatch(/client certificate/);
  });

  it('is refused in plain HTTP to the TLS port', async () => {
    const { error } = await refusedDeploy({ host: context.tlsHost });
    expect(CredentialsError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toMatch(/speaks TLS/);
  });

  it('refuses an engine whose certificate does not verify against the CA', async () => {
    const { error } = await refusedDeploy({
      host: context.tlsHost,
      tls: { ca: tls.untrustedCa, cert: tls.cert, key: tls.key },
    });
    expect(CredentialsError.isInstance(error), String(error)).toBe(true);
    expect((error as CredentialsError).source).toBe(tls.untrustedCa);
  });

  it('names a missing certificate file', async () => {
    const { error } = await refusedDeploy({
      host: context.tlsHost,
      tls: { ca: tls.ca, cert: '/nonexistent/cert.pem', key: tls.key },
    });
    expect(CredentialsError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toContain('/nonexistent/cert.pem');
  });

  it('never turns verification off: tls without a CA, or plain TCP to a remote engine, is refused', () => {
    expect(() =>
      createDockerProvider({ host: context.tlsHost, tls: { cert: tls.cert, key: tls.key } as never }),
    ).toThrow(ValidationError);
    expect(() => createDockerProvider({ host: 'tcp://192.0.2.1:2375' })).toThrow(/plain TCP/);
    vi.stubEnv('DOCKER_HOST', 'tcp://192.0.2.1:2375');
    expect(() => createDockerProvider()).toThrow(ValidationError);
  });

  it('names the engine it cannot reach', async () => {
    const port = await closedPort();
    const { error } = await refusedDeploy({ host: `tcp://127.0.0.1:${port}` });
    expect(ProviderCallError.isInstance(error), String(error)).toBe(true);
    expect((error as ProviderCallError).isRetryable).toBe(true);
    expect(error.message).toContain(`tcp://127.0.0.1:${port}`);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('follows DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', async () => {
    vi.stubEnv('DOCKER_HOST', context.tlsHost);
    vi.stubEnv('DOCKER_TLS_VERIFY', '1');
    vi.stubEnv('DOCKER_CERT_PATH', tls.certDir);
    const provider = createDockerProvider({ ttlSidecarImage: context.images.busybox });
    const resources = await provider.getAvailableResources();
    expect(resources.cpu).toBeGreaterThan(0);
    // The same client certificate is what the explicit settings use.
    expect(readFileSync(`${tls.certDir}/cert.pem`, 'utf8')).toBe(readFileSync(tls.cert, 'utf8'));
  });

  it('works with the right client certificate', async () => {
    const provider = tlsProvider();
    expect((await provider.getAvailableResources()).memoryGb).toBeGreaterThan(0);
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
