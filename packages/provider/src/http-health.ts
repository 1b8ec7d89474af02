import type { HealthResultV1 } from './provider-v1.js';

/**
 * One HTTP GET of `endpoint + path`; healthy on 2xx. Shared by providers whose
 * health check is plain HTTP from where bp runs. Never throws.
 */
export function checkHttpHealth(
  endpoint: string,
  path: string,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<HealthResultV1> {
  const started = performance.now();
  const url = new URL(path, endpoint);
  // Loaded on use: importing node:http as an ES module builds its full facade (and undici with it),
  // which would slow every bp command that merely imports this package.
  const { request } = process.getBuiltinModule('node:http') as typeof import('node:http');
  return new Promise((resolve) => {
    const finish = (result: HealthResultV1) => {
      resolve({ ...result, latencyMs: Math.round((performance.now() - started) * 10) / 10 });
    };
    const req = request(
      url,
      { method: 'GET', timeout: options.timeoutMs ?? 2000, signal: options.signal },
      (res) => {
        res.resume();
        const statusCode = res.statusCode ?? 0;
        const healthy = statusCode >= 200 && statusCode < 300;
        finish(
          healthy
            ? { healthy, statusCode }
            : { healthy, statusCode, reason: `${url.pathname} answered ${statusCode}` },
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 2000} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      finish({ healthy: false, reason: `${url.host}: ${error.code ?? error.message}` });
    });
    req.end();
  });
}
