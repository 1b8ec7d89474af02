import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';
import { lazyBuiltins } from '../../scripts/tsup-lazy-builtins.js';

export default defineConfig({
  entry: ['src/main.ts'],
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node22',
  // One file for yargs and its helpers starts faster than dozens of modules; @bp/* stay packages.
  noExternal: [/^(?!@bp\/)/],
  esbuildPlugins: [lazyBuiltins],
  removeNodeProtocol: false,
  esbuildOptions(options) {
    options.alias = {
      'string-width': fileURLToPath(new URL('./src/lazy-string-width.ts', import.meta.url)),
      assert: fileURLToPath(new URL('./src/yargs-assert.ts', import.meta.url)),
    };
  },
});
