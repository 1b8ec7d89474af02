import { hostname } from 'node:os';
import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import { writeStderr, writeStdout } from '../stdio.js';

interface MonitorArgs extends GlobalOptions {
  'metrics-port': number;
  once?: boolean;
  interval: number;
  'failures-before-recovery': number;
}

export const monitorCommand: CommandSpec<MonitorArgs> = {
  command: 'monitor',
  describe:
    'Health checks, auto-recovery, budget enforcement and the TTL reaper, continuously; metrics on 127.0.0.1',
  options: {
    'metrics-port': {
      type: 'number',
      default: 9464,
      describe: 'Prometheus metrics on 127.0.0.1:PORT/metrics (0: any free port)',
    },
    once: { type: 'boolean', describe: 'Run one pass, print what it did, and exit' },
    interval: { type: 'number', default: 10, describe: 'Seconds between passes' },
    'failures-before-recovery': {
      type: 'number',
      default: 3,
      describe: 'Failed health checks in a row before a restart',
    },
  },
  run: async (argv) => {
    if (!(argv.interval > 0))
      throw new UsageError(`--interval: '${argv.interval}' must be a positive number of seconds`);
    const port = argv['metrics-port'];
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--metrics-port: '${port}' is not a port`);
    const context = createContext(argv);
    const manager = await context.manager();
    const { createMonitorState } = await import('@bp/manager');
    const state = createMonitorState(`${hostname()}:${process.pid}`);
    const settings = {
      failuresBeforeRecovery: argv['failures-before-recovery'],
      leaseMs: Math.max(30_000, argv.interval * 3000),
      signal: context.signal,
    };
    if (argv.once) {
      const report = await manager.monitorPass(state, settings);
      await manager.releaseLeases(state);
      context.progress.done();
      context.print(report, () =>
        [
          `reaper: ${report.reaper ? `ran, ${report.reaped.length} reaped` : 'another monitor holds it'}`,
          ...report.checked.map(
            (check) =>
              `${check.id}: ${check.healthy ? 'healthy' : `unhealthy (${check.reason ?? 'no reason'})`}`,
          ),
          ...report.recovered.map((id) => `${id}: restarted`),
          ...report.failed.map((failure) => `${failure.id}: failed: ${failure.reason}`),
        ].join('\n'),
      );
      return EXIT.ok;
    }
    const { createServer } = await import('node:http');
    const server = createServer((request, response) => {
      if (request.url !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      manager.metrics(state).then(
        (text) => response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
        (error: Error) => response.writeHead(500).end(`${error.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    const address = server.address();
    writeStderr(
      `bp: monitor serving metrics on http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/metrics\n`,
    );
    try {
      while (!context.signal.aborted) {
        const report = await manager.monitorPass(state, settings).catch((error: Error) => {
          writeStderr(`bp: monitor pass failed: ${error.message}\n`);
          return undefined;
        });
        if (report && argv.json) writeStdout(`${JSON.stringify(report)}\n`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, argv.interval * 1000);
          context.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await manager.releaseLeases(state);
    }
    // Ctrl-C is how a monitor stops: that is success.
    return EXIT.ok;
  },
};
