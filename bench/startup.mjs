// `bp --version` and `bp status` (empty state) whole-process time vs `node -e 0`. Target <= 2.5x.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BP, report, timeProcesses } from './lib.mjs';

export function run() {
  const home = mkdtempSync(join(tmpdir(), 'bp-bench-'));
  const env = { ...process.env, BP_HOME: home };
  try {
    const [node, version, status] = timeProcesses(
      [
        [process.execPath, ['-e', '0']],
        [process.execPath, [BP, '--version']],
        [process.execPath, [BP, 'status']],
      ],
      { env },
    );
    return [
      report('bp --version', version, 'node -e 0', node, 2.5),
      report('bp status (empty)', status, 'node -e 0', node, 2.5),
    ];
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
