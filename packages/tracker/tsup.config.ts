import { defineConfig } from 'tsup';
import { libraryBuild } from '../../scripts/tsup-presets.js';

export default defineConfig(libraryBuild());
