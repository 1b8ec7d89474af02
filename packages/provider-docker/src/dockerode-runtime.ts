// dockerode, as bp's Docker client loads it: tsup bundles it into dist/dockerode-runtime.cjs with
// the parts bp never calls left out (see tsup.config.ts). The full module graph costs ~95 ms to load
// (BuildKit's gRPC and protobuf, ssh2 for ssh:// engines, tar for build contexts); the bundle a
// fraction of that.
export { default } from 'dockerode';
