import { defineConfig } from 'tsup';
import { lazyBuiltins } from '../../scripts/tsup-lazy-builtins.js';

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm'],
    esbuildPlugins: [lazyBuiltins],
    removeNodeProtocol: false,
    dts: true,
    sourcemap: true,
    clean: false,
    target: 'node22',
  },
  {
    // zod, bundled and tree-shaken, loaded with require() when a schema is first needed (see resource-spec.ts).
    entry: ['src/zod-runtime.ts'],
    format: ['cjs'],
    outExtension: () => ({ js: '.cjs' }),
    noExternal: ['zod'],
    dts: false,
    sourcemap: false,
    target: 'node22',
  },
]);
