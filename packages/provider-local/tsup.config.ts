import { defineConfig } from 'tsup';
import { libraryBuild } from '../../scripts/tsup-presets.js';

export default defineConfig(
  libraryBuild({
    // The supervisor is a program of its own, started by the provider as `node dist/supervisor.js`.
    entry: ['src/index.ts', 'src/supervisor.ts'],
    dts: { entry: 'src/index.ts' },
  }),
);
