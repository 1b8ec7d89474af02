import { defineConfig } from 'tsup';
import { libraryBuild } from '../../scripts/tsup-presets.js';

// The catalog is not bundled: it ships as catalog/catalog.bin (see package.json "files")
// and is read on first use from ../catalog relative to dist/index.js.
export default defineConfig(libraryBuild());
