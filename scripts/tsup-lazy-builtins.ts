// An esbuild plugin for every package's tsup build: Node's builtin modules, imported with `import`,
// are taken from process.getBuiltinModule() instead of Node's ESM loader. The loader builds a facade
// of each builtin that reads every export once, which runs lazy getters nobody asked for (fs's
// ReadStream loads the whole streams stack, util's TextDecoder loads worker_threads): ~9 ms of each
// bp start. Through esbuild's CommonJS interop an export is read where it is used, not before.
import { builtinModules } from 'node:module';
import type { Options } from 'tsup';

type Plugin = NonNullable<Options['esbuildPlugins']>[number];

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Add to a tsup config with `removeNodeProtocol: false` (tsup would otherwise take `node:` imports first). */
export const lazyBuiltins: Plugin = {
  name: 'bp-lazy-builtins',
  setup(build) {
    const aliased = new Set(Object.keys(build.initialOptions.alias ?? {}));
    build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      if (args.kind !== 'import-statement' || !BUILTINS.has(args.path) || aliased.has(args.path))
        return undefined;
      return { path: args.path.replace(/^node:/, ''), namespace: 'bp-builtin' };
    });
    build.onLoad({ filter: /.*/, namespace: 'bp-builtin' }, (args) => ({
      loader: 'js',
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(`node:${args.path}`)});`,
    }));
  },
};
