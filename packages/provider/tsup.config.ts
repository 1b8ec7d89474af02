import { defineConfig } from 'tsup';
import { lazyBuiltins } from '../../scripts/tsup-lazy-builtins.js';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  esbuildPlugins: [lazyBuiltins],
  removeNodeProtocol: false,
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
});
