// An esbuild plugin for every package's tsup build: Node's builtin modules, imported with `import`,
// are taken from process.getBuiltinModule() instead of Node's ESM loader. The loader builds a facade
// of each builtin that reads every export once, which runs lazy getters nobody asked for (fs's
// ReadStream loads the whole streams stack, util's TextDecoder loads worker_threads): ~9 ms of each
// bp start. Here an export is read where it is used, not before (see lazyExports).
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
      contents: lazyExports(`node:${args.path}`),
    }));
  },
};

/**
 * The virtual module standing for one builtin. esbuild's interop copies a CommonJS module's property
 * descriptors, and asking for a descriptor materialises Node's lazy properties just as the ESM facade
 * does; so an object module is handed over as an object of getters over its export names (read here,
 * at build time), each reading the real export when used. A function module (events, module) is the
 * function itself.
 */
function lazyExports(specifier: string): string {
  const builtin = process.getBuiltinModule(specifier) as object;
  const load = `process.getBuiltinModule(${JSON.stringify(specifier)})`;
  if (typeof builtin !== 'object') return `module.exports = ${load};`;
  const names = Object.getOwnPropertyNames(builtin).filter(
    (name) => name !== 'default' && name !== '__esModule',
  );
  // The builtin itself loads on the first export read: a module imported for a rarely used function
  // (fs/promises in the manager, for instance) costs nothing until then.
  return [
    'let real;',
    'const lazy = {};',
    `for (const name of ${JSON.stringify(names)}) {`,
    `  Object.defineProperty(lazy, name, { get: () => (real ??= ${load})[name], enumerable: true });`,
    '}',
    'module.exports = lazy;',
  ].join('\n');
}
