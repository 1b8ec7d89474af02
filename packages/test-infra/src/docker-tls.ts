import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TEST_INFRA_DIR } from './docker-shared-process.js';

const run = promisify(execFile);

/** Paths of the PEM files a Docker engine's TLS listener and its clients use. */
export interface DockerTlsFiles {
  /** The directory, laid out as DOCKER_CERT_PATH expects: ca.pem, cert.pem, key.pem. */
  certDir: string;
  ca: string;
  /** The client certificate (extendedKeyUsage clientAuth) and its key. */
  cert: string;
  key: string;
  /** The engine's certificate (subjectAltName IP:127.0.0.1, DNS:localhost) and key. */
  serverCert: string;
  serverKey: string;
  /** A client certificate and key signed by another CA, which the engine must refuse. */
  untrustedCert: string;
  untrustedKey: string;
  /** That other CA, which does not sign the engine's certificate. */
  untrustedCa: string;
}

/** Creates (once; reused when present) a test CA, an engine certificate and client certificates with openssl. */
export async function ensureDockerTlsFiles(certDir = join(TEST_INFRA_DIR, 'tls')): Promise<DockerTlsFiles> {
  const files: DockerTlsFiles = {
    certDir,
    ca: join(certDir, 'ca.pem'),
    cert: join(certDir, 'cert.pem'),
    key: join(certDir, 'key.pem'),
    serverCert: join(certDir, 'server-cert.pem'),
    serverKey: join(certDir, 'server-key.pem'),
    untrustedCert: join(certDir, 'untrusted', 'cert.pem'),
    untrustedKey: join(certDir, 'untrusted', 'key.pem'),
    untrustedCa: join(certDir, 'untrusted', 'ca.pem'),
  };
  if (await exists(files.untrustedCa)) return files;
  await mkdir(join(certDir, '..'), { recursive: true });
  // Built aside and renamed into place, so a concurrent process never sees half a set.
  const work = await mkdtemp(`${certDir}.tmp-`);
  try {
    await makeCa(work, 'ca', 'bp-test-infra CA');
    await makeCert(work, 'ca', 'server', 'localhost', [
      'subjectAltName = IP:127.0.0.1, DNS:localhost',
      'extendedKeyUsage = serverAuth',
    ]);
    await makeCert(work, 'ca', 'client', 'bp-test-client', ['extendedKeyUsage = clientAuth']);
    await mkdir(join(work, 'untrusted'));
    await makeCa(work, 'untrusted/ca', 'bp-test-infra untrusted CA');
    await makeCert(work, 'untrusted/ca', 'untrusted/client', 'bp-test-intruder', [
      'extendedKeyUsage = clientAuth',
    ]);
    await rename(join(work, 'client-cert.pem'), join(work, 'cert.pem'));
    await rename(join(work, 'client-key.pem'), join(work, 'key.pem'));
    await rename(join(work, 'untrusted/client-cert.pem'), join(work, 'untrusted/cert.pem'));
    await rename(join(work, 'untrusted/client-key.pem'), join(work, 'untrusted/key.pem'));
    await rename(join(work, 'untrusted/ca-cert.pem'), join(work, 'untrusted/ca.pem'));
    await rename(join(work, 'ca-cert.pem'), join(work, 'ca.pem'));
    await rename(work, certDir).catch(async (error: NodeJS.ErrnoException) => {
      // Another process won the race: its set is as good as ours.
      if (!(await exists(files.untrustedCa))) throw error;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return files;
}

async function makeCa(dir: string, name: string, subject: string): Promise<void> {
  await openssl(dir, ['genrsa', '-out', `${name}-key.pem`, '2048']);
  await openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}-key.pem`,
    '-sha256',
    '-days',
    '3650',
    '-subj',
    `/CN=${subject}`,
    '-out',
    `${name}-cert.pem`,
  ]);
}

async function makeCert(dir: string, ca: string, name: string, subject: string, extensions: string[]) {
  await writeFile(join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
  await openssl(dir, ['genrsa', '-out', `${name}-key.pem`, '2048']);
  await openssl(dir, [
    'req',
    '-new',
    '-key',
    `${name}-key.pem`,
    '-subj',
    `/CN=${subject}`,
    '-out',
    `${name}.csr`,
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}-cert.pem`,
    '-CAkey',
    `${ca}-key.pem`,
    '-CAcreateserial',
    '-days',
    '3650',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}-cert.pem`,
  ]);
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 30_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`openssl ${args[0]} failed${stderr ? `: ${stderr}` : ''} (is openssl installed?)`, {
      cause: error,
    });
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
