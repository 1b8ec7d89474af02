import type Dockerode from 'dockerode';

/**
 * The time to live on the engine, without bp and without the engine's socket, and without a second
 * container on the deploy's path: the workload's own entrypoint is a small busybox `sh` script that
 * runs the image's command as its child and stops it at the deadline.
 *
 * The script is PID 1 of the container. It forwards SIGTERM/SIGINT/SIGHUP to the service (so
 * `docker stop` works even for a service that would ignore SIGTERM as PID 1), exits with the
 * service's status, and at the deadline sends the service SIGTERM, then SIGKILL after the grace, and
 * exits 0. A restart after the deadline (engine restart, restart policy) starts nothing: the script
 * exits 0 at once, so an `on-failure` policy stops there. The deadline is an absolute time on the
 * engine's clock (bp's expiry moved by the engine's clock offset), so it holds across restarts.
 *
 * busybox comes from a named volume, `bp-deadline-tools-<image id>`, filled once per engine from the
 * deadline tools image (a static `/bin/busybox`) and mounted read-only at {@link TOOLS_MOUNT}.
 */
export const TOOLS_MOUNT = '/.bp-deadline';

const BUSYBOX = `${TOOLS_MOUNT}/busybox`;

/** Names a program as the image's PATH would find it: busybox's shell would prefer its own applets. */
const SCRIPT = [
  `b=${BUSYBOX}`,
  'deadline=$1 grace=$2',
  'shift 2',
  'left=$((deadline - $($b date +%s)))',
  'if [ "$left" -le 0 ]; then echo "bp: past its expiry, not starting" >&2; exit 0; fi',
  'case $1 in */*) ;; *)',
  '  IFS=:',
  '  for dir in $PATH; do',
  '    if [ -f "$dir/$1" ] && [ -x "$dir/$1" ]; then program=$dir/$1; shift; set -- "$program" "$@"; break; fi',
  '  done',
  '  unset IFS;;',
  'esac',
  'expired= child=',
  `trap '[ -z "$child" ] || kill -TERM "$child" 2>/dev/null' TERM INT HUP`,
  `trap 'expired=1; echo "bp: expiry reached, stopping the workload" >&2; kill -TERM "$child" 2>/dev/null' USR1`,
  '"$@" &',
  'child=$!',
  '($b sleep "$left"; kill -USR1 $$; $b sleep "$grace"; kill -KILL "$child") </dev/null >/dev/null 2>&1 &',
  'timer=$!',
  'while :; do',
  '  wait "$child"',
  '  status=$?',
  '  kill -0 "$child" 2>/dev/null || break',
  'done',
  'kill "$timer" 2>/dev/null',
  '[ -z "$expired" ] || exit 0',
  'exit "$status"',
].join('\n');

/** The volume holding busybox, by the id of the image it was copied from. */
export function toolsVolumeName(imageId: string): string {
  return `bp-deadline-tools-${imageId.replace(/^sha256:/, '').slice(0, 12)}`;
}

/** The mount of the tools volume into a workload. */
export function toolsMount(volume: string): Dockerode.MountSettings {
  return { Type: 'volume', Source: volume, Target: TOOLS_MOUNT, ReadOnly: true };
}

/**
 * Create options of the short-lived container that copies `/bin/busybox` of `image` into `volume`
 * (to a temporary name, then renamed: a concurrent fill or a reader never sees half a file).
 */
export function toolsFillOptions(image: string, volume: string, labels: Record<string, string>) {
  return {
    Image: image,
    Entrypoint: [
      '/bin/busybox',
      'sh',
      '-c',
      'cp /bin/busybox "/tools/.busybox.$$" && mv -f "/tools/.busybox.$$" /tools/busybox',
    ],
    Cmd: [],
    Labels: labels,
    HostConfig: {
      Mounts: [{ Type: 'volume', Source: volume, Target: '/tools' }],
      NetworkMode: 'none',
      RestartPolicy: { Name: 'no' },
    },
  } satisfies Dockerode.ContainerCreateOptions;
}

/**
 * The workload's entrypoint: the deadline script, then the command the engine would have run
 * (the image's ENTRYPOINT followed by `command`, else by the image's CMD).
 */
export function deadlineEntrypoint(options: {
  /** Seconds since the epoch on the engine's clock. */
  deadlineSeconds: number;
  graceSeconds: number;
  command: string[];
}): string[] {
  return [
    BUSYBOX,
    'sh',
    '-c',
    SCRIPT,
    'bp-deadline',
    String(Math.ceil(options.deadlineSeconds)),
    String(Math.max(1, Math.ceil(options.graceSeconds))),
    ...options.command,
  ];
}

/** What the engine would run for `image` given `command` (Docker's ENTRYPOINT + CMD rule). */
export function imageCommand(
  image: Pick<Dockerode.ImageInspectInfo, 'Config'>,
  command: string[] | undefined,
): string[] {
  const entrypoint = asList(image.Config?.Entrypoint);
  return [...entrypoint, ...(command ?? asList(image.Config?.Cmd))];
}

function asList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  // An image built with the shell form records a string.
  return typeof value === 'string' && value ? ['/bin/sh', '-c', value] : [];
}
