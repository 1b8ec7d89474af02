// vitest globalSetup: two real SSH hosts (network namespaces with their own sshd and Docker engine), shared
// by every test file of this package; their details reach the tests through provide/inject.
import { type SshHostImage, type SshHostsInfo, startSshHosts } from '@bp/test-infra';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    sshHosts: SshHostsInfo;
  }
}

/** The docker runtime's test service (examples/hello's switches, on busybox httpd); `/echo/*` serves what it received. */
export const HELLO_IMAGE = 'local/bp-ssh-hello';
export const HELLO_READY_LINE = 'hello listening';

const HELLO_SCRIPT = `#!/bin/sh
if [ "$HELLO_EXIT_AT_ONCE" = 1 ]; then
  echo 'hello: exiting at once as asked (HELLO_EXIT_AT_ONCE=1)' >&2
  exit 3
fi
mkdir -p /tmp/www/echo
[ "$HELLO_FAIL_HEALTH" = 1 ] || echo ok > /tmp/www/health
printf '%s from %s\\n' "\${GREETING:-hello}" "$BP_DEPLOYMENT_ID" > /tmp/www/index.html
printf '%s' "$ECHO_ENV" > /tmp/www/echo/env
printf '%s' "$ECHO_SECRET" > /tmp/www/echo/secret
i=0
for arg in "$@"; do printf '%s' "$arg" > "/tmp/www/echo/arg$i"; i=$((i + 1)); done
echo "${HELLO_READY_LINE} on port \${PORT:-8080}"
httpd -f -p "\${PORT:-8080}" -h /tmp/www &
server=$!
trap 'echo "hello: stopping"; kill "$server"; exit 0' TERM INT
wait "$server"
`;

const images: SshHostImage[] = [
  { tag: 'local/busybox' },
  { tag: HELLO_IMAGE, files: { '/hello.sh': { content: HELLO_SCRIPT, mode: 0o755 } }, cmd: ['/hello.sh'] },
];

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const hosts = await startSshHosts({ count: 2, docker: true, images });
  const { stop, ...info } = hosts;
  project.provide('sshHosts', info);
  return stop;
}
