import { defineConfig } from 'tsup';
import { libraryBuild, requireBundle } from '../../scripts/tsup-presets.js';

export default defineConfig([
  libraryBuild({ clean: false }),
  requireBundle('src/better-sqlite3-runtime.ts', { noExternal: [/.*/] }),
]);
