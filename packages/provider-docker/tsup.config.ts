import { readFile } from 'node:fs/promises';
import { defineConfig, type Options } from 'tsup';
import { libraryBuild, requireBundle } from '../../scripts/tsup-presets.js';

/**
 * Modules dockerode loads that bp never uses, and what the bundle has instead: a stand-in that fails
 * with a clear message if it is ever called. bp builds no images (no BuildKit session over gRPC, no
 * tar build context) and reaches engines by socket or TCP+TLS (ssh:// engines are provider-ssh's).
 */
const LEFT_OUT: Record<string, string> = {
  '@grpc/grpc-js': 'BuildKit sessions',
  '@grpc/proto-loader': 'BuildKit sessions',
  protobufjs: 'BuildKit',
  ssh2: 'ssh:// Docker engines (use a target of type "ssh")',
  'tar-fs': 'image build contexts',
  '@balena/dockerignore': 'image build contexts',
};

const leaveOut: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'bp-leave-out',
  setup(build) {
    const filter = new RegExp(`^(${Object.keys(LEFT_OUT).join('|').replaceAll('/', '\\/')}|debug)$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'bp-left-out' }));
    build.onLoad({ filter: /.*/, namespace: 'bp-left-out' }, (args) => ({
      loader: 'js',
      contents:
        args.path === 'debug'
          ? // docker-modem's request logging (it would print request bodies, env values included): off.
            'module.exports = () => Object.assign(() => {}, { enabled: false });'
          : `const fail = () => { throw new Error(${JSON.stringify(`bp's Docker client does not include ${args.path} (${LEFT_OUT[args.path]})`)}); };
module.exports = new Proxy({}, { get: () => new Proxy(fail, { construct: fail, apply: fail }) });`,
    }));
  },
};

/**
 * docker-modem formats every request's options with `util.inspect` (hidden properties, unlimited depth:
 * the HTTP agent and all it holds) to hand them to its debug log, which bp turns off (above): about 5 ms
 * a request. The bundle leaves the call out; the build fails if docker-modem changes that code.
 */
const noRequestInspect: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'bp-no-request-inspect',
  setup(build) {
    build.onLoad({ filter: /docker-modem[\\/]lib[\\/]modem\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const call =
        /debug\('Sending: %s', util\.inspect\(options, \{\s*showHidden: true,\s*depth: null\s*\}\)\);/;
      if (!call.test(source)) {
        throw new Error(`${args.path}: docker-modem's request logging changed; update bp-no-request-inspect`);
      }
      return { contents: source.replace(call, ''), loader: 'js' };
    });
  },
};

/**
 * Builtins dockerode requires at load but needs only for some engines or calls: https (with tls and crypto,
 * ~10 ms) only for TLS engines, zlib and crypto never on bp's paths. Each is a stand-in that loads the real
 * module on the first property read.
 */
const LAZY_BUILTINS = ['https', 'zlib', 'crypto', 'tls'];

const lazyBuiltins: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'bp-lazy-builtins',
  setup(build) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    build.onResolve({ filter }, (args) => ({
      path: args.path.replace(/^node:/, ''),
      namespace: 'bp-lazy-builtin',
    }));
    build.onLoad({ filter: /.*/, namespace: 'bp-lazy-builtin' }, (args) => ({
      loader: 'js',
      contents: `let loaded;
const real = () => (loaded ??= process.getBuiltinModule(${JSON.stringify(`node:${args.path}`)}));
module.exports = new Proxy({}, {
  get: (_, key) => real()[key],
  has: (_, key) => key in real(),
  ownKeys: () => Reflect.ownKeys(real()),
  getOwnPropertyDescriptor: (_, key) => {
    const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
    return descriptor && { ...descriptor, configurable: true };
  },
});`,
    }));
  },
};

export default defineConfig([
  libraryBuild({ clean: false }),
  requireBundle('src/dockerode-runtime.ts', {
    noExternal: [/.*/],
    esbuildPlugins: [leaveOut, lazyBuiltins, noRequestInspect],
    // docker-modem's one stream class works on Node's own streams; the userland copy is ~70 KB more.
    esbuildOptions(options) {
      options.alias = { 'readable-stream': 'node:stream' };
    },
  }),
]);
