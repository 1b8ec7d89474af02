import { defineConfig } from 'tsup';
import { libraryBuild, requireBundle } from '../../scripts/tsup-presets.js';

export default defineConfig([
  libraryBuild({ clean: false }),
  // zod, bundled and tree-shaken, loaded with require() when a schema is first needed (see resource-spec.ts).
  requireBundle('src/zod-runtime.ts', { noExternal: ['zod'] }),
]);
