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
    esbuildPlugins: [leaveOut, lazyBuiltins],
    // docker-modem's one stream class works on Node's own streams; the userland copy is ~70 KB more.
    esbuildOptions(options) {
      options.alias = { 'readable-stream': 'node:stream' };
    },
  }),
]);
