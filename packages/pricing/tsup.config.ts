import { defineConfig } from 'tsup';
import { lazyBuiltins } from '../../scripts/tsup-lazy-builtins.js';

// The catalog is not bundled: it ships as catalog/catalog.bin (see package.json "files")
// and is read on first use from ../catalog relative to dist/index.js.
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
