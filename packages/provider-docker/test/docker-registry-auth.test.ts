// Pulls from the registry that requires htpasswd authentication: with credentials the deploy works,
// without (or with a wrong password) it fails clearly, creates nothing and never echoes the password.
import { waitFor } from '@bp/conformance';
import { CredentialsError } from '@bp/provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { context, deployOptions, engine, expectNothingLeft, hello, tlsProvider } from './fixtures.js';

const image = context.images.helloAuth;
const { address, credentials } = context.authRegistry;
const created: string[] = [];

async function removeLocalImage(): Promise<void> {
  await engine
    .getImage(image)
    .remove()
    .catch((error: { statusCode?: number }) => {
      if (error.statusCode !== 404) throw error;
    });
}

beforeEach(removeLocalImage);
afterEach(async () => {
  for (const deploymentId of created.splice(0)) {
    await tlsProvider().terminateInstance({ deploymentId });
    await expectNothingLeft(deploymentId);
  }
  await removeLocalImage();
});

describe('registry authentication', () => {
  it('pulls with the configured credentials', async () => {
    const provider = tlsProvider({ registryAuth: { [address]: credentials } });
    const options = deployOptions({ ...hello(), image });
    created.push(options.deploymentId);
    const steps: string[] = [];
    await provider.deployInstance({ ...options, onProgress: (event) => steps.push(event.step) });
    expect(steps).toContain('pull');
    await engine.getImage(image).inspect();
    await waitFor(async () => (await provider.checkHealth({ ...options, path: '/health' })).healthy, {
      timeoutMs: 20_000,
      what: 'healthy',
    });
  });

  for (const [what, registryAuth] of [
    ['without credentials', undefined],
    [
      'with a wrong password',
      { [address]: { username: credentials.username, password: 'wrong-password-1' } },
    ],
  ] as const) {
    it(`fails clearly ${what}`, async () => {
      const provider = tlsProvider({ registryAuth });
      const options = deployOptions({ ...hello(), image });
      const error = await provider.deployInstance(options).catch((caught: Error) => caught);
      expect(CredentialsError.isInstance(error), String(error)).toBe(true);
      expect((error as CredentialsError).source).toBe(`registryAuth[${address}]`);
      expect((error as Error).message).toContain(image);
      expect((error as Error).message).not.toContain('wrong-password-1');
      expect((error as Error).message).not.toContain(credentials.password);
      await expectNothingLeft(options.deploymentId);
    });
  }
});
