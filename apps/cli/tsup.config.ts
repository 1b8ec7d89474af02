import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';
import { lazyBuiltins } from '../../scripts/tsup-lazy-builtins.js';
import { libraryBuild } from '../../scripts/tsup-presets.js';

/**
 * yargs' platform shim reads `process.stdout.columns` when it loads, which builds process.stdout and with it
 * Node's stream stack (about 5 ms) in every command. Read only when yargs lays out help.
 */
const lazyColumns: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'bp-lazy-stdout-columns',
  setup(build) {
    build.onLoad({ filter: /yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const eager =
        "stdColumns: typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null";
      if (!source.includes(eager))
        throw new Error(`${args.path}: yargs' stdColumns changed; update bp-lazy-stdout-columns`);
      const lazy =
        "get stdColumns() { return typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null; }";
      return { contents: source.replace(eager, lazy), loader: 'js' };
    });
  },
};

export default defineConfig(
  libraryBuild({
    entry: ['src/main.ts'],
    dts: false,
    // One file for yargs and its helpers starts faster than dozens of modules; @bp/* stay packages.
    noExternal: [/^(?!@bp\/)/],
    esbuildPlugins: [lazyBuiltins, lazyColumns],
    esbuildOptions(options) {
      options.alias = {
        'string-width': fileURLToPath(new URL('./src/lazy-string-width.ts', import.meta.url)),
        assert: fileURLToPath(new URL('./src/yargs-assert.ts', import.meta.url)),
      };
    },
  }),
);
