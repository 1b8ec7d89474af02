import { defineConfig } from 'tsup';
import { lazyBuiltins } from '../../scripts/tsup-lazy-builtins.js';

export default defineConfig({
  // The supervisor is a program of its own, started by the provider as `node dist/supervisor.js`.
  entry: ['src/index.ts', 'src/supervisor.ts'],
  format: ['esm'],
  esbuildPlugins: [lazyBuiltins],
  removeNodeProtocol: false,
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node22',
});
