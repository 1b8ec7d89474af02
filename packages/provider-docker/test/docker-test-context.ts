import type { DockerTlsFiles } from '@bp/test-infra';

/** What the global setup hands to the tests (`inject('docker')`). */
export interface DockerTestContext {
  socketPath: string;
  tlsHost: string;
  tls: DockerTlsFiles;
  tlsTerminator: 'dockerd' | 'proxy';
  images: { busybox: string; hello: string; helloAuth: string };
  readyLine: string;
  authRegistry: { address: string; credentials: { username: string; password: string } };
}

/** The bp:owner of everything these tests create, so teardown removes only ours. */
export const TEST_OWNER = 'bp-test-provider-docker';

declare module 'vitest' {
  export interface ProvidedContext {
    docker: DockerTestContext;
  }
}
