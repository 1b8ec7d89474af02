import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';
import { libraryBuild } from '../../scripts/tsup-presets.js';

export default defineConfig(
  libraryBuild({
    entry: ['src/main.ts'],
    dts: false,
    // One file for yargs and its helpers starts faster than dozens of modules; @bp/* stay packages.
    noExternal: [/^(?!@bp\/)/],
    esbuildOptions(options) {
      options.alias = {
        'string-width': fileURLToPath(new URL('./src/lazy-string-width.ts', import.meta.url)),
        assert: fileURLToPath(new URL('./src/yargs-assert.ts', import.meta.url)),
      };
    },
  }),
);
