// Runtime `native`: the command runs on the host itself, in `<instances>/<id>/app` (the uploaded working
// directory) or the instance directory, under a small POSIX-shell supervisor started with `setsid`. The
// supervisor records each output line with its time in `log`, its pid and the service's in pid files,
// and the end in `exit`. The deadline is enforced on the host by `timeout -k GRACE TTL command`, which is
// the service's parent: it holds even if the supervisor, bp and the SSH connection are all gone.
// Environment values arrive on stdin (never in an argument list or file); the service inherits them.
import { statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DeployOptionsV1,
  type LogEntryV1,
  type LogsOptionsV1,
  NotFoundError,
  ProviderCallError,
  ValidationError,
  type WarningV1,
} from '@bp/provider';
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
import type { SshEndpoint } from './ssh-connections.js';

const FOLLOW_POLL_MS = 300;
const MAX_UPLOAD_FILES = 20_000;
/** An instance directory younger than this whose supervisor never started is a deploy in progress. */
const STARTING_SECONDS = 600;

const SUPERVISOR = `# bp supervisor: runs the command until it ends, it is told to stop (SIGTERM) or its deadline
# passes ($2 seconds from now, enforced by timeout, which outlives this script). Output goes to "$dir/log"
# as "<epoch seconds> <o|e|s> <line>".
dir=$1 ttl=$2 grace=$3
shift 3
trap '' HUP
echo $$ > "$dir/supervisor.pid"
deadline=$(( $(date +%s) + ttl ))
log() { printf '%s s %s\\n' "$(date +%s)" "$1" >> "$dir/log"; }
# mawk reads pipes in blocks unless told otherwise; lines must be stamped as they come.
case $(awk -W version 2>&1 | head -n 1) in mawk*) stamp='awk -W interactive' ;; *) stamp=awk ;; esac
rm -f "$dir/out" "$dir/err"
if ! mkfifo "$dir/out" "$dir/err"; then
  log 'cannot create the output pipes'
  printf '1 cannot create the output pipes\\n' > "$dir/exit"
  exit 1
fi
$stamp -v s=o '{ print systime(), s, $0; fflush() }' < "$dir/out" >> "$dir/log" &
$stamp -v s=e '{ print systime(), s, $0; fflush() }' < "$dir/err" >> "$dir/log" &
timeout -k "$grace" "$ttl" "$@" > "$dir/out" 2> "$dir/err" &
child=$!
echo "$child" > "$dir/service.pid"
log "started pid $child; stops within \${ttl}s (its deadline, enforced by timeout)"
stopping=
trap 'stopping=1; : > "$dir/stopping"; log "terminate requested: stopping"; kill -TERM "$child" 2> /dev/null' TERM INT
while :; do
  wait "$child"
  code=$?
  kill -0 "$child" 2> /dev/null || break
done
# Whatever the command left in its process group goes with it.
kill -TERM "-$child" 2> /dev/null
wait
if [ -n "$stopping" ]; then reason='terminated on request'
elif [ "$(date +%s)" -ge "$deadline" ]; then reason='stopped at its deadline'
elif [ "$code" -eq 126 ] || [ "$code" -eq 127 ]; then reason="could not run $1 (exit $code)"
else reason="exited with code $code"; fi
log "$reason"
printf '%s %s\\n' "$code" "$reason" > "$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"
rm -f "$dir/out" "$dir/err" "$dir/stopping"
`;

/** `describe ID`: a block of lines starting `instance ID`, when its instance directory exists. */
const DESCRIBE_FUNCTION = `
describe() {
  dir="$instances/$1"
  [ -d "$dir" ] || return 0
  printf 'instance %s\\n' "$1"
  printf 'meta %s\\n' "$(cat "$dir/meta.json" 2> /dev/null)"
  created=$(cat "$dir/created" 2> /dev/null)
  printf 'age %s\\n' "$(( $(date +%s) - \${created:-$(date +%s)} ))"
  printf 'port %s\\n' "$(cat "$dir/port" 2> /dev/null)"
  [ -f "$dir/supervisor.pid" ] && echo started
  ours "$(cat "$dir/supervisor.pid" 2> /dev/null)" "$1" && echo supervisor
  ours "$(cat "$dir/service.pid" 2> /dev/null)" "$1" && echo service
  [ -f "$dir/stopping" ] && echo stopping
  [ -f "$dir/exit" ] && printf 'exit %s\\n' "$(cat "$dir/exit")"
  return 0
}
`;

const DESCRIBE = `${PRELUDE}${DESCRIBE_FUNCTION}
if [ $# -gt 0 ]; then
  describe "$1"
else
  for dir in "$instances"/*/; do [ -d "$dir" ] && describe "$(basename "$dir")"; done
fi
exit 0
`;

const CLAIM = `${PRELUDE}
id=$1 meta=$2
mkdir -p "$instances" || exit 70
dir="$instances/$id"
mkdir "$dir" 2> /dev/null || exit 73
date +%s > "$dir/created"
printf '%s\\n' "$meta" > "$dir/meta.json"
cd "$dir" && pwd
`;

/** Starts the supervisor in the claimed instance directory and describes the instance. */
const START = `${PRELUDE}${DESCRIBE_FUNCTION}
id=$1 ttl=$2 grace=$3 supervisor=$4
shift 4
dir="$instances/$id"
[ -d "$dir" ] || exit 70
printf '%s' "$supervisor" > "$dir/supervise"
cd "$dir/app" 2> /dev/null || cd "$dir" || exit 70
eval "$(cat)"
if ! command -v "$1" > /dev/null 2>&1; then
  echo "$1 is not an executable file here or on PATH" >&2
  exit 72
fi
used=" $(cat "$instances"/*/port 2> /dev/null | tr '\\n' ' ') $(awk '$4 == "0A" { n = split($2, a, ":"); print a[n] }' /proc/net/tcp /proc/net/tcp6 2> /dev/null | while read -r hex; do printf '%d ' "0x$hex"; done) "
port=
for candidate in $(awk -v seed="$$" 'BEGIN { srand(seed); for (i = 0; i < 50; i++) print 20000 + int(rand() * 20000) }'); do
  case "$used" in *" $candidate "*) ;; *) port=$candidate; break ;; esac
done
[ -n "$port" ] || { echo 'no free port found' >&2; exit 76; }
printf '%s\\n' "$port" > "$dir/port"
export PORT="$port"
setsid /bin/sh "$dir/supervise" "$dir" "$ttl" "$grace" "$@" < /dev/null >> "$dir/supervisor.log" 2>&1 &
i=0
while [ ! -s "$dir/service.pid" ] && [ ! -s "$dir/exit" ] && [ "$i" -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
describe "$id"
`;

const REMOVE = `${PRELUDE}
id=$1 grace=$2
dir="$instances/$id"
[ -d "$dir" ] || exit 0
# Every live process carrying the id, found by its environment: pids and groups recorded earlier may
# belong to someone else by now.
members() { grep -lzxF "BP_DEPLOYMENT_ID=$id" /proc/[0-9]*/environ 2> /dev/null | cut -d / -f 3; }
sup=$(cat "$dir/supervisor.pid" 2> /dev/null)
svc=$(cat "$dir/service.pid" 2> /dev/null)
# The supervisor passes SIGTERM on to timeout, which signals the service's group and SIGKILLs it after the grace.
if ours "$sup" "$id"; then kill -TERM "$sup"; elif ours "$svc" "$id"; then kill -TERM "$svc"; fi
i=0
while [ -n "$(members)" ] && [ "$i" -lt $(( (grace + 3) * 10 )) ]; do sleep 0.1; i=$((i + 1)); done
i=0
while pids=$(members) && [ -n "$pids" ] && [ "$i" -lt 50 ]; do
  kill -KILL $pids 2> /dev/null
  sleep 0.1
  i=$((i + 1))
done
if [ -n "$(members)" ]; then echo "processes of $id survive SIGKILL" >&2; exit 74; fi
trash="$instances/.trash-$id-$$"
mv "$dir" "$trash" && rm -rf "$trash"
`;

/** `state LIVE SIZE`, then the log's bytes from OFFSET to SIZE (their last TAIL lines, if given). */
const READ_LOG = `${PRELUDE}
id=$1 offset=$2 tail=$3
dir="$instances/$id"
[ -d "$dir" ] || { echo gone; exit 0; }
live=0
ours "$(cat "$dir/supervisor.pid" 2> /dev/null)" "$id" && live=1
ours "$(cat "$dir/service.pid" 2> /dev/null)" "$id" && live=1
size=0
[ -f "$dir/log" ] && size=$(( $(wc -c < "$dir/log") ))
printf 'state %s %s\\n' "$live" "$size"
[ "$size" -gt "$offset" ] || exit 0
tail -c +"$((offset + 1))" "$dir/log" | head -c "$((size - offset))" | if [ -n "$tail" ]; then tail -n "$tail"; else cat; fi
`;

export function createNativeRuntime(context: RuntimeContext): SshRuntime {
  const { connections, stopGraceSeconds } = context;

  function describe(host: SshEndpoint, block: Map<string, string>): Inspection {
    const deploymentId = block.get('instance')!;
    const meta = parseMeta(block.get('meta'));
    const port = Number(block.get('port'));
    const known = {
      expiresAt: meta ? new Date(meta.expiresAt) : undefined,
      owner: meta?.owner,
      endpoint: port > 0 ? endpointUrl(host, port) : undefined,
      resourceIds: [`${host.label}/instance/${deploymentId}`],
    };
    const exit = block.get('exit');
    if (exit !== undefined) {
      const space = exit.indexOf(' ');
      const code = Number(space < 0 ? exit : exit.slice(0, space));
      return {
        ...known,
        state: 'exited',
        exitCode: Number.isInteger(code) ? code : undefined,
        message: space < 0 ? undefined : exit.slice(space + 1),
      };
    }
    if (block.has('supervisor')) return { ...known, state: block.has('stopping') ? 'stopping' : 'running' };
    if (block.has('service')) {
      return {
        ...known,
        state: 'running',
        message: 'the supervisor is gone: output is not recorded; timeout still enforces the deadline',
      };
    }
    if (!block.has('started') && Number(block.get('age')) < STARTING_SECONDS)
      return { ...known, state: 'starting' };
    return {
      ...known,
      state: 'exited',
      message: block.has('started')
        ? 'the supervisor was killed; the service ended unrecorded'
        : 'never started',
    };
  }

  /** The `instance` blocks that `describe` printed. */
  function blocksOf(output: string): string[] {
    return output.split(/^(?=instance )/m).filter((block) => block.startsWith('instance '));
  }

  function parseDescription(host: SshEndpoint, deploymentId: string, output: string): Inspection {
    const block = blocksOf(output).find((text) => text.startsWith(`instance ${deploymentId}\n`));
    return block ? describe(host, parseFields(block)) : { state: 'gone', resourceIds: [] };
  }

  /** Describes the ids given, or every instance on the host. */
  function describeOn(host: SshEndpoint, ids: string[], signal?: AbortSignal): Promise<string> {
    return connections.run(host, { operation: 'inspect', script: DESCRIBE, args: ids, signal });
  }

  async function inspect(host: SshEndpoint, deploymentId: string, signal?: AbortSignal): Promise<Inspection> {
    return parseDescription(host, deploymentId, await describeOn(host, [deploymentId], signal));
  }

  async function readLog(
    host: SshEndpoint,
    deploymentId: string,
    offset: number,
    tail: number | undefined,
    signal?: AbortSignal,
  ) {
    const output = await connections.run(host, {
      operation: 'read logs',
      script: READ_LOG,
      args: [deploymentId, String(offset), tail === undefined ? '' : String(tail)],
      signal,
    });
    const newline = output.indexOf('\n');
    const [word, live, size] = output.slice(0, newline < 0 ? undefined : newline).split(' ');
    if (word !== 'state') return undefined;
    return { live: live === '1', size: Number(size), data: newline < 0 ? '' : output.slice(newline + 1) };
  }

  async function upload(host: SshEndpoint, localDir: string, remoteDir: string): Promise<void> {
    const { sftp, done } = await connections.sftp(host);
    let files = 0;
    const walk = async (local: string, remote: string): Promise<void> => {
      await sftpCall<void>((callback) => sftp.mkdir(remote, { mode: 0o700 }, callback));
      for (const entry of await readdir(local, { withFileTypes: true })) {
        if (entry.name === '.git') continue;
        if (++files > MAX_UPLOAD_FILES) {
          throw new ValidationError({
            path: 'workload.workingDirectory',
            reason: `holds more than ${MAX_UPLOAD_FILES} files to upload`,
          });
        }
        const from = join(local, entry.name);
        const to = `${remote}/${entry.name}`;
        const info = await stat(from).catch(() => undefined);
        if (info?.isDirectory()) await walk(from, to);
        else if (info?.isFile()) {
          await sftpCall<void>((callback) => sftp.fastPut(from, to, { mode: info.mode & 0o777 }, callback));
        }
      }
    };
    try {
      await walk(localDir, remoteDir);
    } catch (error) {
      if (ValidationError.isInstance(error)) throw error;
      throw new ProviderCallError({
        provider: PROVIDER,
        operation: 'upload',
        message: `uploading ${localDir} to ${host.label} failed: ${(error as Error).message}`,
        isRetryable: true,
        cause: error,
      });
    } finally {
      done();
    }
  }

  async function remove(host: SshEndpoint, deploymentId: string, signal?: AbortSignal): Promise<void> {
    await connections.run(host, {
      operation: 'terminate',
      script: REMOVE,
      args: [deploymentId, String(stopGraceSeconds)],
      timeoutMs: (stopGraceSeconds + 30) * 1000,
      signal,
    });
  }

  /** Uploads the working directory (if any) and starts the supervisor in the claimed instance directory. */
  async function start(host: SshEndpoint, options: DeployOptionsV1, remoteDir: string): Promise<Inspection> {
    const { deploymentId, workload, signal } = options;
    if (workload.workingDirectory) {
      options.onProgress?.({
        step: 'upload',
        message: `uploading ${workload.workingDirectory} to ${host.label}`,
      });
      await upload(host, workload.workingDirectory, `${remoteDir}/app`);
    }
    options.onProgress?.({ step: 'start', message: `starting ${workload.command![0]} on ${host.label}` });
    const env = {
      ...workload.env,
      ...options.secrets,
      HOST: '0.0.0.0',
      BP_DEPLOYMENT_ID: deploymentId,
    };
    const started = await connections.exec(host, {
      operation: 'start',
      script: START,
      args: [
        deploymentId,
        String(secondsToLive(options.expiresAt)),
        String(stopGraceSeconds),
        SUPERVISOR,
        ...workload.command!,
      ],
      input: environmentScript(env),
      signal,
    });
    if (started.code === 72) {
      throw new ValidationError({
        path: 'workload.command',
        reason: `${host.label}: ${started.stderr.trim()}`,
      });
    }
    if (started.code !== 0) throw remoteCommandError({ label: host.label, operation: 'start' }, started);
    return parseDescription(host, deploymentId, started.stdout);
  }

  return {
    name: 'native',
    capabilities: { nativeCommand: true, containerImage: false },
    resourceChecks: `
for tool in setsid timeout mkfifo awk; do command -v "$tool" > /dev/null 2>&1 || echo "unfit $tool is missing"; done
mkdir -p "$instances" 2> /dev/null
df -Pk "$instances" 2> /dev/null | awk 'NR == 2 { print "disk", $4 }'
`,
    describeFunction: DESCRIBE_FUNCTION,
    parseDescription,

    check(options: DeployOptionsV1): WarningV1[] {
      const { command, workingDirectory, image } = options.workload;
      if (
        !Array.isArray(command) ||
        !command.length ||
        !command.every((word) => typeof word === 'string' && !word.includes('\0'))
      ) {
        throw new ValidationError({
          path: 'workload.command',
          reason: 'must be a non-empty list of strings without NUL bytes',
        });
      }
      if (!command[0] || command[0].startsWith('-')) {
        throw new ValidationError({
          path: 'workload.command',
          reason: 'must start with a program name or path',
        });
      }
      if (workingDirectory !== undefined && !isDirectory(workingDirectory)) {
        throw new ValidationError({
          path: 'workload.workingDirectory',
          reason: `${workingDirectory} is not a directory`,
        });
      }
      const warnings: WarningV1[] = [
        {
          setting: 'resources',
          message: 'not limited for native commands: only used to choose a host with room',
        },
      ];
      if (image)
        warnings.push({ setting: 'workload.image', message: 'ignored: runtime native runs the command' });
      return warnings;
    },

    inspect,

    async create(host, options) {
      const { deploymentId, signal } = options;
      const claimed = await connections.exec(host, {
        operation: 'create instance directory',
        script: CLAIM,
        args: [deploymentId, JSON.stringify(metaOf(options))],
        signal,
      });
      if (claimed.code === 73) return 'exists';
      if (claimed.code !== 0)
        throw remoteCommandError({ label: host.label, operation: 'create instance directory' }, claimed);
      try {
        return await start(host, options, claimed.stdout.trim());
      } catch (error) {
        await remove(host, deploymentId).catch(() => {});
        throw error;
      }
    },

    remove,

    async *logs(host, deploymentId, options: LogsOptionsV1): AsyncGenerator<LogEntryV1> {
      const since = options.since?.getTime() ?? Number.NEGATIVE_INFINITY;
      let chunk = await readLog(host, deploymentId, 0, options.tail, options.signal);
      if (!chunk) throw new NotFoundError({ kind: 'instance', id: deploymentId });
      let offset = chunk.size;
      let partial = '';
      for (;;) {
        const lines = (partial + chunk.data).split('\n');
        // Without follow the last line is complete as it stands; while following, it may still grow.
        partial = options.follow ? (lines.pop() ?? '') : '';
        for (const line of lines) {
          const entry = parseLogLine(line);
          // Lines carry whole seconds: one stamped in the second of `since` may have come after it.
          if (entry && entry.timestamp.getTime() + 999 >= since) yield entry;
        }
        if (!options.follow || !chunk.live || options.signal?.aborted) return;
        await sleep(FOLLOW_POLL_MS, undefined, { signal: options.signal }).catch(() => {});
        if (options.signal?.aborted) return;
        const next = await readLog(host, deploymentId, offset, undefined, options.signal);
        if (!next) return;
        // Liveness is read before the bytes, so the lines written before the end are still drained.
        chunk = next;
        offset = Math.max(offset, next.size);
      }
    },

    async list(host, signal) {
      return blocksOf(await describeOn(host, [], signal))
        .map((block) => describe(host, parseFields(block)))
        .map((inspection) => ({
          resourceId: inspection.resourceIds[0]!,
          deploymentId: inspection.resourceIds[0]!.split('/instance/')[1]!,
          expiresAt: inspection.expiresAt,
          owner: inspection.owner,
          state: inspection.state,
        }));
    },
  };
}

/** `<epoch seconds> <o|e|s> <text>`, as the supervisor writes it. */
function parseLogLine(line: string): LogEntryV1 | undefined {
  const match = /^(\d+) ([oes]) ?(.*)$/s.exec(line);
  if (!match) return undefined;
  const stream = ({ o: 'stdout', e: 'stderr', s: 'system' } as const)[match[2] as 'o' | 'e' | 's'];
  return { timestamp: new Date(Number(match[1]) * 1000), stream, message: match[3] ?? '' };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function sftpCall<T>(
  call: (callback: (error: Error | null | undefined, value?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) =>
    call((error, value) => (error ? reject(error) : resolve(value as T))),
  );
}
