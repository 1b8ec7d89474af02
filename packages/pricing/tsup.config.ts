import { defineConfig } from 'tsup';

// The catalog is not bundled: it ships as catalog/catalog.json.gz (see package.json "files")
// and is read on first use from ../catalog relative to dist/index.js.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
});
