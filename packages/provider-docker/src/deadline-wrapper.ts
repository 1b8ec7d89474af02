import type Dockerode from 'dockerode';

/**
 * The time to live on the engine, without bp and without the engine's socket, and without a second
 * container on the deploy's path: the workload runs under the engine's init (`Init: true`, tini as
 * PID 1), and its entrypoint is a small busybox `sh` script that starts a timer and then `exec`s what
 * the image would run. The service is thus PID 1's child, with the signals it would have had: `docker
 * stop` sends the image's stop signal to the init, which passes it on (SIGTERM, or SIGQUIT for nginx…),
 * and a service that ignores SIGTERM as PID 1 stops too.
 *
 * The timer, detached to the init, sends the service SIGTERM at the deadline, then SIGKILL after the
 * grace; the container ends with the service. A start after the deadline (a restart policy, an engine
 * restart) runs nothing: the script exits 0 at once, so an `on-failure` policy stops there. The deadline
 * is an absolute time on the engine's clock (bp's expiry moved by the engine's clock offset), so it holds
 * across restarts.
 *
 * busybox comes from a named volume, `bp-deadline-tools-<image id>`, filled once per engine from the
 * deadline tools image (a static `/bin/busybox`; `<name>.ready` says the fill completed) and mounted
 * read-only at {@link TOOLS_MOUNT}.
 */
export const TOOLS_MOUNT = '/.bp-deadline';

const BUSYBOX = `${TOOLS_MOUNT}/busybox`;

/**
 * $1 the deadline (seconds since the epoch), $2 the grace (seconds), then the command. A bare program
 * name is looked up on the image's PATH here, as the engine would: busybox's shell would prefer its own
 * applet of that name (`uname`, `sh`, `httpd`…).
 */
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
  // The service keeps this shell's pid; the timer is left to the init, not to the service, to reap.
  'service=$$',
  '( ($b sleep "$left"; echo "bp: expiry reached, stopping the workload" >&2; kill -TERM "$service"; $b sleep "$grace"; kill -KILL "$service") </dev/null >/dev/null & )',
  'exec "$@"',
].join('\n');

/** The volume holding busybox, by the id of the image it was copied from. */
export function toolsVolumeName(imageId: string): string {
  return `bp-deadline-tools-${imageId.replace(/^sha256:/, '').slice(0, 12)}`;
}

/** The empty volume whose existence says that `volume` was filled completely. */
export function toolsReadyName(volume: string): string {
  return `${volume}.ready`;
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
