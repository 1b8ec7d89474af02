// The tsup builds every package shares (imported by each package's tsup.config.ts at build time).
import type { Options } from 'tsup';
import { lazyBuiltins } from './tsup-lazy-builtins.js';

/** A package's library build: src/index.ts to ESM in dist/ with its types; builtins through lazyBuiltins. */
export function libraryBuild(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm'],
    esbuildPlugins: [lazyBuiltins],
    // Otherwise tsup takes `node:` imports before the plugin sees them.
    removeNodeProtocol: false,
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node22',
    ...overrides,
  };
}

/**
 * Third-party code bundled, tree-shaken, into one CommonJS file `dist/<entry's name>.cjs`, which the
 * package loads with require() on first use. Build it beside a `libraryBuild({ clean: false })`, with
 * `rm -rf dist` in the build script, as tsup runs the two at once.
 */
export function requireBundle(entry: string, overrides: Options = {}): Options {
  return {
    entry: [entry],
    format: ['cjs'],
    outExtension: () => ({ js: '.cjs' }),
    platform: 'node',
    dts: false,
    sourcemap: false,
    target: 'node22',
    ...overrides,
  };
}
