import type Dockerode from 'dockerode';
import { workloadName } from './workload-container.js';

/**
 * The time to live on the engine, without bp and without the engine's socket: a tiny "deadline keeper"
 * container owns a PID namespace and the workload joins it (`PidMode: container:<keeper>`). At the deadline
 * the keeper sends SIGTERM to every other process in the namespace (the workload's), repeating once a second
 * so that an engine restart policy cannot bring it back, for at most the grace period; then it exits. When a
 * namespace's init exits, the kernel kills every process left in it, and the engine cannot restart the
 * workload into a namespace that is gone: the workload stays `exited` until terminate or reconcile removes it.
 * The keeper removes itself (AutoRemove), runs with no network, a read-only root and only CAP_KILL.
 * It needs `sh`, `sleep` and `kill` in its image (busybox).
 */
const KEEPER_SCRIPT = [
  // `docker stop` / terminate of the keeper itself ends it at once (it is PID 1: TERM is ignored otherwise).
  "trap 'exit 0' TERM INT",
  'sleep "$1" & wait $!',
  'echo "bp: deadline reached, stopping the workload"',
  'i=0',
  'while [ "$i" -lt "$2" ] && kill -TERM -1 2>/dev/null; do sleep 1 & wait $!; i=$((i + 1)); done',
].join('\n');

/** The keeper's container name. Deployment ids never contain `.`, so it cannot collide with a workload's `bp-<id>`. */
export function keeperName(deploymentId: string): string {
  return `${workloadName(deploymentId)}.ttl`;
}

/** Create options of the keeper of a deployment that must be stopped `seconds` from now. */
export function keeperCreateOptions(options: {
  deploymentId: string;
  image: string;
  seconds: number;
  graceSeconds: number;
  labels: Record<string, string>;
}): Dockerode.ContainerCreateOptions {
  return {
    name: keeperName(options.deploymentId),
    Image: options.image,
    Entrypoint: [
      'sh',
      '-c',
      KEEPER_SCRIPT,
      'bp-deadline-keeper',
      String(Math.max(0, Math.ceil(options.seconds))),
      String(Math.max(1, Math.ceil(options.graceSeconds))),
    ],
    Cmd: [],
    Labels: options.labels,
    HostConfig: {
      AutoRemove: true,
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      // Signals the workload's processes even when they run as another user.
      CapAdd: ['KILL'],
      SecurityOpt: ['no-new-privileges'],
      Memory: 32 * 2 ** 20,
      MemorySwap: 32 * 2 ** 20,
      NanoCpus: 100_000_000,
      PidsLimit: 16,
      RestartPolicy: { Name: 'no' },
    },
  };
}
