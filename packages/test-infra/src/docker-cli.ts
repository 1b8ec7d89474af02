import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { TEST_INFRA_DIR } from './docker-shared-process.js';

/** The CLI that matches Debian's dockerd (a newer one elsewhere on PATH may speak a newer API). */
const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

/** The test CLI's own config dir, so `docker login` never writes into the user's ~/.docker. */
export const DOCKER_TEST_CONFIG_DIR = join(TEST_INFRA_DIR, 'docker-config');

/**
 * Runs the docker CLI against the engine's socket, without a shell; resolves with stdout.
 * `input` is piped to stdin (a string or a stream). Bounded by `timeoutMs` (default 120 s).
 */
export function runDockerCli(
  args: string[],
  options: { socketPath?: string; input?: string | Readable; timeoutMs?: number } = {},
): Promise<string> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DOCKER_HOST: `unix://${options.socketPath ?? '/var/run/docker.sock'}`,
    DOCKER_CONFIG: DOCKER_TEST_CONFIG_DIR,
    DOCKER_BUILDKIT: '0',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER_CLI, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else
        reject(new Error(`docker ${args[0]} failed (${signal ?? code}): ${stderr.trim() || stdout.trim()}`));
    });
    child.stdin.on('error', () => {});
    if (typeof options.input === 'string') child.stdin.end(options.input);
    else if (options.input) options.input.pipe(child.stdin);
    else child.stdin.end();
  });
}
