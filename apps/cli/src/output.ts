import { accruedUsd as accrued, type DeploymentRecord } from '@bp/manager';
import { isTerminal, writeStderr } from './stdio.js';

/**
 * Progress on stderr: a spinner line on a TTY, plain lines otherwise. With `timings` (`--debug`), plain
 * lines that say when each step began, in ms since the process started.
 */
export interface Progress {
  step(message: string): void;
  done(message?: string): void;
  warn(message: string): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function createProgress(options: { timings?: boolean } = {}): Progress {
  if (!isTerminal(2) || process.env.CI || options.timings) {
    const prefix = options.timings
      ? () => `bp: [${performance.now().toFixed(0).padStart(5)} ms] `
      : () => 'bp: ';
    return {
      step: (message) => writeStderr(`${prefix()}${message}\n`),
      done: (message) => message && writeStderr(`${prefix()}${message}\n`),
      warn: (message) => writeStderr(`${prefix()}warning: ${message}\n`),
    };
  }
  const stream = process.stderr;
  let current = '';
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  const render = () => {
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${current}`);
  };
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    stream.write('\r\x1b[2K');
  };
  return {
    step(message) {
      if (current) stream.write(`\r\x1b[2K✓ ${current}\n`);
      current = message;
      timer ??= setInterval(render, 80).unref();
      render();
    },
    done(message) {
      if (current) stream.write(`\r\x1b[2K✓ ${current}\n`);
      current = '';
      stop();
      if (message) stream.write(`${message}\n`);
    },
    warn(message) {
      stream.write(`\r\x1b[2K! ${message}\n`);
      if (current) render();
    },
  };
}

/** Compact duration: `1h30m`, `45s`, `2d3h`. */
export function formatDuration(ms: number): string {
  if (ms < 0) return '-';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60 ? `${seconds % 60}s` : ''}`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${minutes % 60 ? `${minutes % 60}m` : ''}`;
  return `${Math.floor(hours / 24)}d${hours % 24 ? `${hours % 24}h` : ''}`;
}

/** The JSON shape of a deployment record (`deploy --json`, `status --json`). */
export function recordToJson(record: DeploymentRecord, now = new Date()) {
  return {
    id: record.id,
    name: record.name,
    target: record.target,
    provider: record.provider,
    region: record.region ?? null,
    instanceType: record.instanceType ?? null,
    status: record.status,
    endpoint: record.endpoint ?? null,
    hourlyUsd: record.hourlyUsd,
    expiresAt: record.expiresAt.toISOString(),
    createdAt: record.createdAt.toISOString(),
    startedAt: record.startedAt?.toISOString() ?? null,
    stoppedAt: record.stoppedAt?.toISOString() ?? null,
    accruedUsd: Math.round(accrued(record, now) * 1e6) / 1e6,
    reason: record.reason ?? null,
    resourceIds: record.resourceIds,
    attempts: record.attempts.map((attempt) => ({ ...attempt, at: attempt.at.toISOString() })),
    lastLogLines: record.lastLogLines,
  };
}

/** Left-aligned columns separated by two spaces. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `bp status` as a table. */
export function statusTable(records: DeploymentRecord[], now = new Date()): string {
  if (records.length === 0) return 'no deployments';
  return table(
    ['ID', 'NAME', 'TARGET', 'STATUS', 'ENDPOINT', 'AGE', 'COST', 'LEFT'],
    records.map((record) => {
      const active = record.status !== 'terminated' && record.status !== 'failed';
      return [
        record.id,
        record.name,
        record.target,
        record.status,
        active ? (record.endpoint ?? '-') : '-',
        formatDuration(now.getTime() - record.createdAt.getTime()),
        `$${accrued(record, now).toFixed(4)}`,
        active ? formatDuration(record.expiresAt.getTime() - now.getTime()) : '-',
      ];
    }),
  );
}

/** One deployment in detail. */
export function describeRecord(record: DeploymentRecord, now = new Date()): string {
  const lines = [
    `id:         ${record.id}`,
    `name:       ${record.name}`,
    `status:     ${record.status}${record.reason ? ` (${record.reason})` : ''}`,
    `target:     ${record.target} (${record.provider}${record.region ? `, ${record.region}` : ''}${record.instanceType ? `, ${record.instanceType}` : ''})`,
    `endpoint:   ${record.endpoint ?? '-'}`,
    `created:    ${record.createdAt.toISOString()} (${formatDuration(now.getTime() - record.createdAt.getTime())} ago)`,
    `expires:    ${record.expiresAt.toISOString()}`,
    `cost:       $${record.hourlyUsd.toFixed(4)}/h, $${accrued(record, now).toFixed(4)} so far`,
    `resources:  ${record.resourceIds.join(', ') || '-'}`,
  ];
  if (record.attempts.length > 0) {
    lines.push('attempts:');
    for (const attempt of record.attempts) {
      lines.push(
        `  ${attempt.at.toISOString()}  ${attempt.target} (${attempt.provider})  ${attempt.outcome}${attempt.reason ? `: ${attempt.reason}` : ''}`,
      );
    }
  }
  if (record.lastLogLines.length > 0) {
    lines.push('last log lines:', ...record.lastLogLines.map((line) => `  ${line}`));
  }
  return lines.join('\n');
}
