import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runBp, tempHome } from './helpers.js';

const home = tempHome();
afterAll(() => rmSync(home, { recursive: true, force: true }));

const CLOUD_SDKS = /@aws-sdk|@smithy|@google-cloud|google-gax|@azure|@kubernetes|dockerode|ssh2/;

/** Runs bp with a preload that records every module it loads (ground truth, not bp's own view). */
async function loadedModules(args: string[]): Promise<string[]> {
  const log = join(home, `modules-${args.join('-').replace(/\W/g, '')}.txt`);
  const hook = join(home, 'record-modules.mjs');
  writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
registerHooks({ load(url, context, nextLoad) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return nextLoad(url, context); } });
`,
  );
  const result = await runBp(args, home, { nodeArgs: ['--import', pathToFileURL(hook).href] });
  expect(result.code, result.stderr).toBe(0);
  return readFileSync(log, 'utf8').trim().split('\n');
}

describe('startup', () => {
  it('bp --help loads no cloud SDK and no database driver', async () => {
    const modules = await loadedModules(['--help']);
    expect(modules.some((url) => url.endsWith('/apps/cli/dist/main.js'))).toBe(true);
    expect(modules.filter((url) => CLOUD_SDKS.test(url))).toEqual([]);
    expect(modules.filter((url) => url.includes('/packages/tracker/'))).toEqual([]);
  });

  it('bp status without a database answers without making one', async () => {
    const fresh = tempHome();
    try {
      const result = await runBp(['status', '--json'], fresh);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual([]);
      expect(existsSync(join(fresh, 'state.db'))).toBe(false);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('bp status loads the tracker (so the recording above sees real loads) but no cloud SDK', async () => {
    // An empty file is an empty SQLite database: status opens it.
    writeFileSync(join(home, 'state.db'), '');
    const modules = await loadedModules(['status']);
    expect(modules.some((url) => url.includes('/packages/tracker/'))).toBe(true);
    expect(modules.filter((url) => CLOUD_SDKS.test(url))).toEqual([]);
  });

  it('bp estimate loads no cloud SDK', async () => {
    const modules = await loadedModules(['estimate', '--cpu', '2', '--memory', '4', '--compare']);
    expect(modules.some((url) => url.includes('/packages/pricing/'))).toBe(true);
    expect(modules.filter((url) => CLOUD_SDKS.test(url))).toEqual([]);
  });

  it('bp --version prints the package version', async () => {
    const result = await runBp(['--version'], home);
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(result.stdout.trim()).toBe(version);
  });

  it('bp --help lists every command', async () => {
    const result = await runBp(['--help'], home);
    for (const command of ['deploy', 'status', 'logs', 'terminate', 'configure', 'providers']) {
      expect(result.stdout).toContain(`bp ${command}`);
    }
  });
});
