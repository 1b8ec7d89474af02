// Runs every package's tests in one vitest run and prints the totals from
// vitest's JSON report as the last line: `N passed, N failed, N skipped`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const report = `${root}.vitest-report.json`;
rmSync(report, { force: true });
const run = spawnSync(
  'pnpm',
  [
    'exec',
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: 'inherit' },
);
if (!existsSync(report)) {
  console.error(`vitest wrote no report (exit ${run.status ?? run.signal})`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const totals = JSON.parse(readFileSync(report, 'utf8'));
const passed = totals.numPassedTests;
const failed = totals.numFailedTests + (totals.numRuntimeErrorTestSuites ?? 0);
const skipped = totals.numPendingTests + totals.numTodoTests;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(run.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
