// What the two runtimes (docker, native) share: the interface the provider drives, the instance metadata
// kept in `<instances>/<id>/meta.json` on the host, and how environment values reach the host.
import type {
  DeployOptionsV1,
  InstanceStateV1,
  LogEntryV1,
  LogsOptionsV1,
  ManagedResourceV1,
  ProviderCapabilitiesV1,
  WarningV1,
} from '@bp/provider';
import type { SurveyParts } from './host-resources.js';
import { shellQuote } from './shell-quote.js';
import type { SshConnections, SshEndpoint } from './ssh-connections.js';

/** What a runtime found for one deployment id on one host. */
export interface Inspection {
  state: InstanceStateV1;
  endpoint?: string;
  exitCode?: number;
  message?: string;
  expiresAt?: Date;
  owner?: string;
  resourceIds: string[];
}

export interface RuntimeContext {
  connections: SshConnections;
  /** SIGTERM to SIGKILL, whole seconds (on the host and for `docker stop --time`). */
  stopGraceSeconds: number;
}

/** A runtime adds its resource checks and its `describe` shell function to each host's survey. */
export interface SshRuntime extends SurveyParts {
  readonly name: 'docker' | 'native';
  readonly capabilities: Pick<ProviderCapabilitiesV1, 'nativeCommand' | 'containerImage'>;
  /** Runtime-specific checks of a deploy; throws on bad input, returns warnings. */
  check(options: DeployOptionsV1): WarningV1[];
  /** Reads what the `describe` shell function printed for the id on the host. */
  parseDescription(host: SshEndpoint, deploymentId: string, output: string): Inspection;
  inspect(host: SshEndpoint, deploymentId: string, signal?: AbortSignal): Promise<Inspection>;
  /** Creates the instance; `exists` when another caller holds the id on this host already. */
  create(host: SshEndpoint, options: DeployOptionsV1): Promise<Inspection | 'exists'>;
  /** Stops and deletes everything of the id on the host; nothing there is fine. */
  remove(host: SshEndpoint, deploymentId: string, signal?: AbortSignal): Promise<void>;
  logs(host: SshEndpoint, deploymentId: string, options: LogsOptionsV1): AsyncGenerator<LogEntryV1>;
  list(host: SshEndpoint, signal?: AbortSignal): Promise<ManagedResourceV1[]>;
}

/** `meta.json`: what bp needs to describe an instance later. Never holds environment values or secrets. */
export interface InstanceMeta {
  deploymentId: string;
  name: string;
  owner?: string;
  expiresAt: string;
  tags: Record<string, string>;
}

export function metaOf(options: DeployOptionsV1): InstanceMeta {
  return {
    deploymentId: options.deploymentId,
    name: options.name,
    owner: options.tags['bp:owner'],
    expiresAt: options.expiresAt.toISOString(),
    tags: options.tags,
  };
}

export function parseMeta(text: string | undefined): InstanceMeta | undefined {
  try {
    return text ? (JSON.parse(text) as InstanceMeta) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The environment as `export NAME='value'` lines, for a remote script to `eval` from its stdin: values
 * (secrets included) never appear in an argument list, a file or a log. Names are checked beforehand.
 */
export function environmentScript(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
    .join('');
}

/** Whole seconds left until `expiresAt`, at least 1: the host counts them down on its own clock. */
export function secondsToLive(expiresAt: Date): number {
  return Math.max(1, Math.ceil((expiresAt.getTime() - Date.now()) / 1000));
}

export function endpointUrl(host: SshEndpoint, port: number): string {
  return `http://${host.host.includes(':') ? `[${host.host}]` : host.host}:${port}`;
}

/** Lines of `key value` output; a key may repeat (the last wins). */
export function parseFields(output: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of output.split('\n')) {
    const space = line.indexOf(' ');
    if (line) fields.set(space < 0 ? line : line.slice(0, space), space < 0 ? '' : line.slice(space + 1));
  }
  return fields;
}
