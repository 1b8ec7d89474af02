// Runtime `docker`: the image runs through the host's own Docker engine (whatever `docker` and DOCKER_HOST
// are in the login environment), named by the deployment id, with bp's labels, CPU and memory limits and the
// service port published on a free port of the host. Environment values arrive on stdin and reach the
// container through `docker run --env NAME` (the value is read from the docker CLI's own environment), so
// they appear in no argument list and no file. A watchdog started beside it (`setsid`, in the instance
// directory) stops the container at its expiry on the host's clock, whether or not bp ever runs again.
import {
  type DeployOptionsV1,
  type InstanceStateV1,
  type LogEntryV1,
  type LogsOptionsV1,
  type ManagedResourceV1,
  NotFoundError,
  ProviderCallError,
  TAG_LABELS,
  ValidationError,
  type WarningV1,
} from '@bp/provider';
import { toDockerHostConfig } from '@bp/resources';
import { PRELUDE } from './host-resources.js';
import { PROVIDER, remoteCommandError } from './map-ssh-error.js';
import {
  endpointUrl,
  environmentScript,
  type Inspection,
  metaOf,
  parseFields,
  parseMeta,
  type RuntimeContext,
  type SshRuntime,
  secondsToLive,
} from './runtime.js';
import { shellQuote } from './shell-quote.js';
import type { SshEndpoint } from './ssh-connections.js';

/** Only what bp reads: never `.Config.Env`, which holds the secrets. */
const INSPECT_FORMAT =
  '{"id":{{json .Id}},"state":{{json .State}},"labels":{{json .Config.Labels}},"ports":{{json .NetworkSettings.Ports}}}';
/** A directory younger than this without its container is a deploy in progress, not a failed one. */
const CREATING_SECONDS = 600;

interface ContainerView {
  id: string;
  state: {
    Status: string;
    Running: boolean;
    Restarting: boolean;
    OOMKilled: boolean;
    ExitCode: number;
    Error: string;
    FinishedAt: string;
  };
  labels: Record<string, string> | null;
  ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
}

const WATCHDOG = `# bp watchdog: stops container $2 at its deadline, even if bp never runs again.
dir=$1 id=$2 ttl=$3 grace=$4
echo $$ > "$dir/watchdog.pid"
deadline=$(( $(date +%s) + ttl ))
while now=$(date +%s) && [ "$now" -lt "$deadline" ]; do
  left=$((deadline - now))
  [ "$left" -gt 3600 ] && left=3600
  sleep "$left"
done
docker stop --time "$grace" "$id" > /dev/null 2>&1
rm -f "$dir/watchdog.pid"
`;

/**
 * `describe ID`: `meta` and `age` (seconds) when its instance directory exists, read with shell builtins
 * (no process per file), and the container's view as one `container` line (empty when there is none).
 */
const DESCRIBE = `
describe() {
  if [ -d "$instances/$1" ]; then
    saved_meta= created_at=
    read -r saved_meta < "$instances/$1/meta.json"
    read -r created_at < "$instances/$1/created"
    now=$(date +%s)
    printf 'meta %s\\nage %s\\n' "$saved_meta" "$((now - \${created_at:-$now}))"
  fi 2> /dev/null
  printf 'container %s\\n' "$(docker container inspect --format ${shellQuote(INSPECT_FORMAT)} "$1" 2> /dev/null)"
}
`;

/**
 * Claims the instance directory (exit 73 when it exists), starts the watchdog, runs the container and
 * describes it: one round trip. A container of that name that bp did not make is left alone (exit 75).
 */
const CREATE = `${PRELUDE}${DESCRIBE}
id=$1 ttl=$2 grace=$3 meta=$4 watchdog=$5
shift 5
dir="$instances/$id"
mkdir -p "$instances" || exit 70
mkdir "$dir" 2> /dev/null || exit 73
date +%s > "$dir/created"
printf '%s\\n' "$meta" > "$dir/meta.json"
printf '%s' "$watchdog" > "$dir/watchdog"
BP_DEPLOYMENT_ID="$id" setsid /bin/sh "$dir/watchdog" "$dir" "$id" "$ttl" "$grace" < /dev/null > /dev/null 2>&1 &
undo() {
  i=0
  while [ ! -s "$dir/watchdog.pid" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  wd=$(cat "$dir/watchdog.pid" 2> /dev/null)
  ours "$wd" "$id" && kill -TERM "-$wd" 2> /dev/null
  rm -rf "$dir"
}
eval "$(cat)"
if ! docker run "$@" > "$dir/container" 2> "$dir/run.err"; then
  # A container holding the name that bp did not make (docker run refused it) is left alone.
  if label=$(docker container inspect --format '{{index .Config.Labels "bp-deployment"}}' "$id" 2> /dev/null) &&
    [ "$label" != "$id" ]; then
    echo "a container named $id exists that bp did not make" >&2
    undo
    exit 75
  fi
  grep -v -e '^Unable to find image' -e 'docker run --help' -e '^ *$' "$dir/run.err" >&2
  docker rm --force "$id" > /dev/null 2>&1
  undo
  exit 74
fi
describe "$id"
`;

const INSPECT = `${PRELUDE}${DESCRIBE}
describe "$1"
`;

const REMOVE = `${PRELUDE}
id=$1 grace=$2
dir="$instances/$id"
wd=$(cat "$dir/watchdog.pid" 2> /dev/null)
ours "$wd" "$id" && kill -TERM "-$wd" 2> /dev/null
if [ "$(docker container inspect --format '{{index .Config.Labels "bp-deployment"}}' "$id" 2> /dev/null)" = "$id" ]; then
  docker stop --time "$grace" "$id" > /dev/null 2>&1
  docker rm --force --volumes "$id" > /dev/null || exit 74
fi
if [ -d "$dir" ]; then
  trash="$instances/.trash-$id-$$"
  mv "$dir" "$trash" && rm -rf "$trash"
fi
`;

const LIST = `${PRELUDE}
format=$1
ids=$(docker ps --all --quiet --no-trunc --filter label=bp-managed-by=bp) || exit 74
[ -z "$ids" ] || docker container inspect --format "$format" $ids | sed 's/^/container /'
for dir in "$instances"/*/; do
  [ -d "$dir" ] && printf 'dir %s\\n' "$(basename "$dir")"
done
exit 0
`;

const LOGS = `id=$1
shift
exec docker logs "$@" "$id"
`;

/** docker logs --follow, stopped once the reader goes away: the channel's stdin reaches EOF. */
const FOLLOW = `id=$1
shift
exec 3<&0
docker logs "$@" "$id" < /dev/null &
child=$!
(cat <&3 > /dev/null 2>&1; kill "$child" 2> /dev/null) > /dev/null 2>&1 &
exec 3<&-
wait "$child"
`;

export function createDockerRuntime(context: RuntimeContext): SshRuntime {
  const { connections, stopGraceSeconds } = context;

  const resourceIds = (host: SshEndpoint, deploymentId: string, containerId?: string) => [
    ...(containerId ? [`${host.label}/container/${containerId.slice(0, 12)}`] : []),
    `${host.label}/instance/${deploymentId}`,
  ];

  function parseDescription(host: SshEndpoint, deploymentId: string, output: string): Inspection {
    const fields = parseFields(output);
    const meta = parseMeta(fields.get('meta'));
    const container = parseContainer(fields.get('container'), deploymentId);
    const labels = container?.labels ?? {};
    const expiresText = labels[TAG_LABELS.expiresAt] ?? meta?.expiresAt;
    const expiresAt = expiresText ? new Date(expiresText) : undefined;
    const known = { expiresAt, owner: labels[TAG_LABELS.owner] ?? meta?.owner };
    if (!container) {
      if (!fields.has('meta')) return { state: 'gone', resourceIds: [] };
      const creating = Number(fields.get('age')) < CREATING_SECONDS;
      return {
        ...known,
        state: creating ? 'starting' : 'exited',
        message: creating ? undefined : 'the container was never created, or was removed outside bp',
        resourceIds: resourceIds(host, deploymentId),
      };
    }
    const base = { ...known, resourceIds: resourceIds(host, deploymentId, container.id) };
    const published = Object.values(container.ports ?? {})
      .flatMap((bindings) => bindings ?? [])
      .find((binding) => binding.HostPort);
    const { state } = container;
    if (state.Status === 'exited' || state.Status === 'dead') {
      const expired = expiresAt !== undefined && new Date(state.FinishedAt) >= expiresAt;
      const message = state.OOMKilled
        ? 'killed: out of memory'
        : expired
          ? `stopped at its deadline ${expiresAt.toISOString()}`
          : state.Error || `exited with code ${state.ExitCode}`;
      return { ...base, state: 'exited', exitCode: state.ExitCode, message };
    }
    const mapped: Record<string, InstanceStateV1> = {
      created: 'starting',
      restarting: 'starting',
      running: 'running',
      paused: 'running',
      removing: 'stopping',
    };
    return {
      ...base,
      state: mapped[state.Status] ?? 'starting',
      endpoint: published ? endpointUrl(host, Number(published.HostPort)) : undefined,
      message: state.Status === 'paused' ? 'paused' : undefined,
    };
  }

  async function inspect(host: SshEndpoint, deploymentId: string, signal?: AbortSignal): Promise<Inspection> {
    const output = await connections.run(host, {
      operation: 'inspect',
      script: INSPECT,
      args: [deploymentId],
      signal,
    });
    return parseDescription(host, deploymentId, output);
  }

  return {
    name: 'docker',
    capabilities: { nativeCommand: false, containerImage: true },
    resourceChecks: `
if root=$(docker info --format '{{.DockerRootDir}}' 2>&1); then
  df -Pk "$root" 2> /dev/null | awk 'NR == 2 { print "disk", $4 }'
else
  echo "unfit no usable Docker engine: $(printf '%s' "$root" | tail -n 1)"
fi
`,
    describeFunction: DESCRIBE,
    parseDescription,

    check(options: DeployOptionsV1): WarningV1[] {
      const { workload, resources } = options;
      if (typeof workload.image !== 'string' || !/^[^\s-][^\s]*$/.test(workload.image)) {
        throw new ValidationError({
          path: 'workload.image',
          reason: 'must be an image reference without spaces',
        });
      }
      if (!(resources.cpu > 0 && resources.memoryGb > 0)) {
        throw new ValidationError({ path: 'resources', reason: 'cpu and memoryGb must be more than 0' });
      }
      return [
        {
          setting: 'resources.storageGb',
          message: "not limited per container: only checked against the engine's free disk",
        },
      ];
    },

    inspect,

    async create(host, options) {
      const { deploymentId, workload } = options;
      const limits = toDockerHostConfig(options.resources);
      const labels: Record<string, string> = {
        ...Object.fromEntries(
          Object.entries(options.tags).map(([key, value]) => [key.replaceAll(':', '-'), value]),
        ),
        [TAG_LABELS.deployment]: deploymentId,
        [TAG_LABELS.managedBy]: 'bp',
        [TAG_LABELS.expiresAt]: options.expiresAt.toISOString(),
        'bp-name': options.name,
      };
      const env = {
        ...workload.env,
        ...options.secrets,
        PORT: String(workload.port),
        BP_DEPLOYMENT_ID: deploymentId,
      };
      const runArgs = [
        '--detach',
        '--name',
        deploymentId,
        ...Object.entries(labels).flatMap(([key, value]) => ['--label', `${key}=${value}`]),
        '--cpus',
        String(limits.NanoCpus / 1e9),
        '--memory',
        String(limits.Memory),
        '--publish',
        String(workload.port),
        ...Object.keys(env).flatMap((name) => ['--env', name]),
        workload.image!,
        ...(workload.command ?? []),
      ];
      options.onProgress?.({ step: 'create', message: `docker run ${workload.image} on ${host.label}` });
      const result = await connections.exec(host, {
        operation: 'docker run',
        script: CREATE,
        args: [
          deploymentId,
          String(secondsToLive(options.expiresAt)),
          String(stopGraceSeconds),
          JSON.stringify(metaOf(options)),
          WATCHDOG,
          ...runArgs,
        ],
        input: environmentScript(env),
        // Includes pulling the image.
        timeoutMs: 15 * 60_000,
        signal: options.signal,
      });
      if (result.code === 73) return 'exists';
      if (result.code === 74) {
        const reason = result.stderr.trim().split('\n').slice(-2).join(' | ');
        throw new ProviderCallError({
          provider: PROVIDER,
          operation: 'docker run',
          message: `${host.label} could not run ${workload.image}: ${reason}`,
          isRetryable: /connection refused|timeout|temporar|TLS handshake/i.test(reason),
        });
      }
      if (result.code !== 0) throw remoteCommandError({ label: host.label, operation: 'docker run' }, result);
      return parseDescription(host, deploymentId, result.stdout);
    },

    async remove(host, deploymentId, signal) {
      await connections.run(host, {
        operation: 'docker rm',
        script: REMOVE,
        args: [deploymentId, String(stopGraceSeconds)],
        timeoutMs: (stopGraceSeconds + 60) * 1000,
        signal,
      });
    },

    async *logs(host, deploymentId, options: LogsOptionsV1): AsyncGenerator<LogEntryV1> {
      const args = [deploymentId, '--timestamps'];
      if (options.since) args.push('--since', (options.since.getTime() / 1000).toFixed(3));
      if (options.tail !== undefined) args.push('--tail', String(options.tail));
      if (!options.follow) {
        const result = await connections.exec(host, {
          operation: 'docker logs',
          script: LOGS,
          args,
          signal: options.signal,
        });
        if (result.code !== 0) {
          if (/No such container/i.test(result.stderr))
            throw new NotFoundError({ kind: 'instance', id: deploymentId });
          throw remoteCommandError({ label: host.label, operation: 'docker logs' }, result);
        }
        const entries = [
          ...parseLogLines(result.stdout, 'stdout'),
          ...parseLogLines(result.stderr, 'stderr'),
        ];
        yield* entries.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
        return;
      }
      args.push('--follow');
      for await (const { stream, line } of connections.lines(host, {
        operation: 'docker logs',
        script: FOLLOW,
        args,
        signal: options.signal,
      })) {
        const entry = parseLogLine(line, stream);
        if (entry) yield entry;
      }
    },

    async list(host, signal) {
      const output = await connections.run(host, {
        operation: 'docker ps',
        script: LIST,
        args: [INSPECT_FORMAT],
        signal,
      });
      const found = new Map<string, ManagedResourceV1>();
      const dirs: string[] = [];
      for (const line of output.split('\n')) {
        if (line.startsWith('dir ')) dirs.push(line.slice(4));
        if (!line.startsWith('container ')) continue;
        const container = parseContainer(line.slice(10));
        const deploymentId = container?.labels?.[TAG_LABELS.deployment];
        if (!container || !deploymentId) continue;
        const inspection = parseDescription(host, deploymentId, `container ${line.slice(10)}`);
        found.set(deploymentId, {
          resourceId: inspection.resourceIds[0]!,
          deploymentId,
          expiresAt: inspection.expiresAt,
          owner: inspection.owner,
          state: inspection.state,
        });
      }
      // An instance directory without its container: a deploy in progress, or what a failed one left.
      for (const deploymentId of dirs.filter((dir) => !found.has(dir))) {
        const inspection = await inspect(host, deploymentId, signal);
        if (inspection.state === 'gone') continue;
        found.set(deploymentId, {
          resourceId: inspection.resourceIds.at(-1)!,
          deploymentId,
          expiresAt: inspection.expiresAt,
          owner: inspection.owner,
          state: inspection.state,
        });
      }
      return [...found.values()];
    },
  };
}

/** The container's view, when it exists and carries this deployment's label (a stranger's container is not ours). */
function parseContainer(text: string | undefined, deploymentId?: string): ContainerView | undefined {
  if (!text) return undefined;
  try {
    const view = JSON.parse(text) as ContainerView;
    if (view.labels?.[TAG_LABELS.managedBy] !== 'bp') return undefined;
    if (deploymentId !== undefined && view.labels[TAG_LABELS.deployment] !== deploymentId) return undefined;
    return view;
  } catch {
    return undefined;
  }
}

function parseLogLines(text: string, stream: 'stdout' | 'stderr'): LogEntryV1[] {
  return text
    .split('\n')
    .map((line) => parseLogLine(line, stream))
    .filter((entry) => entry !== undefined);
}

/** `2026-01-02T03:04:05.123456789Z message`, as `docker logs --timestamps` writes it. */
function parseLogLine(line: string, stream: 'stdout' | 'stderr'): LogEntryV1 | undefined {
  const space = line.indexOf(' ');
  const timestamp = new Date(space < 0 ? line : line.slice(0, space));
  if (Number.isNaN(timestamp.getTime())) return undefined;
  return { timestamp, stream, message: space < 0 ? '' : line.slice(space + 1) };
}
