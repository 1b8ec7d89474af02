// `bp estimate --compare` whole process, cold (a new process each run, the catalog
// loaded from disk every time) vs `bp --version`. Target < 2x.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BP, report, timeProcesses } from './lib.mjs';

export function run() {
  const home = mkdtempSync(join(tmpdir(), 'bp-bench-'));
  const env = { ...process.env, BP_HOME: home };
  try {
    const [version, compare] = timeProcesses(
      [
        [process.execPath, [BP, '--version']],
        [process.execPath, [BP, 'estimate', '--cpu', '2', '--memory', '8', '--compare']],
      ],
      { env },
    );
    return [report('bp estimate --compare (cold)', compare, 'bp --version', version, 2)];
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
