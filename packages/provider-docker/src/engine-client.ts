import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DeployOptionsV1,
  ProviderCallError,
  TAG_LABELS,
  throwIfAborted,
  ValidationError,
} from '@bp/provider';
import type Dockerode from 'dockerode';
import { toolsFillOptions, toolsReadyName, toolsVolumeName } from './deadline-wrapper.js';
import { type DockerTarget, dockerOptionsFor } from './docker-connection.js';
import { type EngineAddress, type EngineRequest, engineRequest, pathPart } from './engine-http.js';
import {
  type DockerErrorContext,
  isConflict,
  isMissing,
  isNotModified,
  mapDockerError,
} from './map-docker-error.js';
import { type RegistryCredentials, registryAuthFor } from './registry-auth.js';
import { ROLE_LABEL } from './workload-container.js';

/** What the provider needs to know of the engine, read once. */
export interface EngineInfo {
  NCPU: number;
  MemTotal: number;
  OSType: string;
  Driver: string;
  DockerRootDir: string;
  /** The engine's clock when asked (RFC 3339). */
  SystemTime?: string;
}

/** A concurrent create holds the name a moment before its container can be inspected. */
const CREATE_ATTEMPTS = 100;

/**
 * The engine calls the provider makes, each mapping its errors once (map-docker-error.ts). dockerode is
 * imported on the first call, so importing the package stays cheap; a failed connection is retried next time.
 */
export function createEngineClient(target: DockerTarget, injected?: Dockerode) {
  async function call<T>(
    operation: string,
    work: () => Promise<T>,
    context: Partial<DockerErrorContext> = {},
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw mapDockerError(error, { operation, target, ...context });
    }
  }

  /** The dockerode client, without asking the engine anything. */
  const client = onceUnlessFailed(async (): Promise<Dockerode> => {
    if (injected) return injected;
    const options = await dockerOptionsFor(target);
    const Docker = await loadDockerode();
    // docker-modem also reads DOCKER_HOST/DOCKER_CERT_PATH itself, and may throw on their files.
    return call('connect', async () => new Docker(options));
  });

  /** Where the engine answers without TLS (its socket, or plain TCP on loopback): engine-http.ts's calls. */
  const plainAddress: EngineAddress | undefined = injected
    ? undefined
    : target.socketPath
      ? { socketPath: target.socketPath }
      : !target.tls && target.hostname !== undefined && target.port !== undefined
        ? { host: target.hostname, port: target.port }
        : undefined;

  /**
   * One JSON call of the Engine API, its errors unmapped (wrap it in `call`): straight onto a plain
   * connection, else through dockerode's modem.
   */
  async function send<T>(request: EngineRequest): Promise<T> {
    if (!plainAddress) return (await dial(await client(), request)) as T;
    const asked = Date.now();
    return (await engineRequest(plainAddress, {
      ...request,
      onDate: (engineMs) => {
        lastDate = { engineMs, asked, answered: Date.now() };
      },
    })) as T;
  }

  /** The engine's clock as the last plain answer's Date header gave it, and when that call was asked and answered. */
  let lastDate: { engineMs: number; asked: number; answered: number } | undefined;

  /** The engine's info (read once; deploys ask it alongside other calls) and its clock's offset from ours. */
  const connect = onceUnlessFailed(async () => {
    const asked = Date.now();
    const info = await call('info', () => send<EngineInfo>({ method: 'GET', path: '/info' }));
    const answered = Date.now();
    // The engine's clock minus ours, from the midpoint of the call; 0 when the engine does not say.
    const engineTime = Date.parse(info.SystemTime ?? '');
    const clockOffsetMs = Number.isFinite(engineTime) ? engineTime - (asked + answered) / 2 : 0;
    return { info, clockOffsetMs };
  });

  /** Ignores the listed engine answers (404 gone, 304 unchanged, 409 conflict) and rethrows the rest. */
  const tolerating =
    (...checks: ((error: unknown) => boolean)[]) =>
    (error: unknown) => {
      if (!checks.some((check) => check(error))) throw error;
      return undefined;
    };

  /** The container's inspect, or undefined when the engine has none by that name or id. */
  async function inspect(name: string, signal?: AbortSignal) {
    return call(
      'inspect container',
      () =>
        send<Dockerode.ContainerInspectInfo>({
          method: 'GET',
          path: `/containers/${pathPart(name)}/json`,
          signal,
        }).catch(tolerating(isMissing)),
      { container: name },
    );
  }

  /** The image's inspect, or undefined when the engine does not have it. */
  async function findImage(
    image: string,
    context: Partial<DockerErrorContext> = {},
  ): Promise<Dockerode.ImageInspectInfo | undefined> {
    return call(
      'inspect image',
      () =>
        send<Dockerode.ImageInspectInfo>({ method: 'GET', path: `/images/${pathPart(image)}/json` }).catch(
          tolerating(isMissing),
        ),
      { image, ...context },
    );
  }

  return {
    client,
    connect,

    /**
     * Where the engine's clock offset (engine minus ours, ms) lies, from the last plain answer's Date
     * header: the engine read [date, date + 1 s) at some moment between the call's asking and answering.
     * Undefined before any such answer (and always on TLS engines, whose answers dockerode reads).
     */
    clockOffsetRange(): { low: number; high: number } | undefined {
      return (
        lastDate && {
          low: lastDate.engineMs - lastDate.answered,
          high: lastDate.engineMs + 1000 - lastDate.asked,
        }
      );
    },
    findImage,
    call,
    inspect,

    /** Containers of bp carrying all the labels (`key=value`), in any state. */
    async list(labels: string[]) {
      const docker = await client();
      return call('list containers', () => docker.listContainers({ all: true, filters: { label: labels } }));
    },

    /** Pulls the image unless the policy is `missing` and the engine has it; credentials per registry. Returns its inspect. */
    async ensureImage(
      image: string,
      options: {
        pull: 'missing' | 'always';
        registryAuth?: Record<string, RegistryCredentials>;
        redact: string[];
        /** The setting that named the image, for errors. */
        setting?: string;
        /** The image's inspect, when the caller already has it. */
        found?: Dockerode.ImageInspectInfo;
        signal?: AbortSignal;
        onProgress?: DeployOptionsV1['onProgress'];
      },
    ): Promise<Dockerode.ImageInspectInfo> {
      const context = { image, imageSetting: options.setting, redact: options.redact };
      const inspectImage = () => findImage(image, context);
      if (options.pull === 'missing') {
        const present = options.found ?? (await inspectImage());
        if (present) return present;
      }
      throwIfAborted(options.signal);
      options.onProgress?.({ step: 'pull', message: `pulling ${image}` });
      const authconfig = await registryAuthFor(image, options.registryAuth);
      if (authconfig) options.redact.push(authconfig.password);
      const docker = await client();
      await call(
        'pull',
        async () => {
          const stream = await docker.pull(image, { authconfig, abortSignal: options.signal });
          await new Promise<void>((resolve, reject) => {
            docker.modem.followProgress(stream, (error: unknown) => (error ? reject(error) : resolve()));
          });
        },
        context,
      );
      const pulled = await inspectImage();
      if (!pulled) {
        throw new ProviderCallError({
          provider: 'docker',
          operation: 'pull',
          message: `${image} is not on ${target.description} after its pull`,
          isRetryable: true,
        });
      }
      return pulled;
    },

    /**
     * The volume holding the deadline tools (see deadline-wrapper.ts) copied from `image`, filled on
     * the first use on this engine. A second, empty volume (`<name>.ready`) is created once the copy
     * has succeeded: a fill interrupted before that is done again by the next deploy.
     */
    async ensureDeadlineTools(
      image: Dockerode.ImageInspectInfo,
      options: { redact: string[] },
    ): Promise<string> {
      const volume = toolsVolumeName(image.Id);
      const context = {
        image: image.RepoTags?.[0] ?? image.Id,
        imageSetting: 'ttlSidecarImage',
        redact: options.redact,
      };
      const ready = await call(
        'inspect volume',
        () =>
          send({ method: 'GET', path: `/volumes/${pathPart(toolsReadyName(volume))}` }).then(
            () => true,
            tolerating(isMissing),
          ),
        context,
      );
      if (ready) return volume;
      const docker = await client();
      const labels = { [TAG_LABELS.managedBy]: 'bp', [ROLE_LABEL]: 'deadline-tools' };
      // Creating a volume that exists returns it: concurrent first deploys fill it side by side.
      await call('create volume', () => docker.createVolume({ Name: volume, Labels: labels }), context);
      const filler = await call(
        'create container',
        () => docker.createContainer(toolsFillOptions(image.Id, volume, labels)),
        context,
      );
      try {
        await call('start container', () => filler.start(), context);
        const { StatusCode } = (await call('wait', () => filler.wait(), context)) as { StatusCode: number };
        if (StatusCode !== 0) {
          throw new ValidationError({
            path: 'ttlSidecarImage',
            reason: `${context.image} must provide a static /bin/busybox for the deadline script (copying it exited ${StatusCode})`,
          });
        }
      } finally {
        await filler.remove({ force: true }).catch(() => {});
      }
      await call(
        'create volume',
        () => docker.createVolume({ Name: toolsReadyName(volume), Labels: labels }),
        context,
      );
      return volume;
    },

    /** Creates the container unless one of this deployment holds its name; `created` says which. */
    async createOnce(
      deploymentId: string,
      options: Dockerode.ContainerCreateOptions,
      redact: string[],
    ): Promise<{ id: string; created: boolean }> {
      const { name, ...body } = options;
      const context = { container: name, image: options.Image, redact };
      for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        try {
          const answer = await send<{ Id: string }>({
            method: 'POST',
            path: '/containers/create',
            query: { name: name! },
            body,
          });
          return { id: answer.Id, created: true };
        } catch (error) {
          if (!isConflict(error))
            throw mapDockerError(error, { operation: 'create container', target, ...context });
        }
        const existing = await inspect(name!);
        if (existing && existing.Config.Labels?.[TAG_LABELS.deployment] !== deploymentId) {
          throw new ValidationError({
            path: 'deploymentId',
            reason: `a container named ${name} exists on ${target.description} that bp did not create for ${deploymentId}`,
          });
        }
        if (existing) return { id: existing.Id, created: false };
        await sleep(50);
      }
      throw new ProviderCallError({
        provider: 'docker',
        operation: 'create container',
        message: `the name ${name} stays taken on ${target.description}, but no such container can be found`,
        isRetryable: true,
      });
    },

    /** Starts the container; one that already runs is fine. */
    async start(id: string, redact: string[]): Promise<void> {
      await call(
        'start container',
        () =>
          send({ method: 'POST', path: `/containers/${pathPart(id)}/start` }).catch(
            tolerating(isNotModified),
          ),
        { container: id, redact },
      );
    },

    /** Stops (SIGTERM, then SIGKILL after the grace) when asked, then removes; gone or going counts as done. */
    async remove(id: string, options: { stopGraceSeconds?: number }): Promise<void> {
      const docker = await client();
      const container = docker.getContainer(id);
      const done = tolerating(isMissing, isNotModified, isConflict);
      if (options.stopGraceSeconds !== undefined) {
        await call('stop container', () => container.stop({ t: options.stopGraceSeconds }).catch(done));
      }
      await call('remove container', () => container.remove({ force: true, v: true }).catch(done));
    },
  };
}

/** `work`'s promise, made on the first call and shared by later ones; forgotten if it fails, so the next call tries again. */
function onceUnlessFailed<T>(work: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (pending) return pending;
    const attempt = work();
    pending = attempt;
    attempt.catch(() => {
      if (pending === attempt) pending = undefined;
    });
    return attempt;
  };
}

/** `request` through dockerode's own modem (TLS engines, an injected client); its errors are dockerode's. */
function dial(docker: Dockerode, request: EngineRequest): Promise<unknown> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        // The modem adds `_query` as the query string only to a path with a `?`; `_body` is a POST's JSON.
        path: request.query ? `${request.path}?` : request.path,
        method: request.method,
        options: { _query: request.query ?? {}, _body: request.body ?? {} },
        statusCodes: {
          200: true,
          201: true,
          204: true,
          304: 'not modified',
          400: 'bad parameter',
          404: 'no such object',
          409: 'conflict',
          500: 'server error',
        },
        abortSignal: request.signal,
      },
      (error: unknown, data: unknown) => (error ? reject(error) : resolve(data)),
    );
  });
}

/**
 * dockerode. Built, the bundle beside this file (dockerode-runtime.ts says why); from source (tests),
 * the package itself.
 */
async function loadDockerode(): Promise<typeof Dockerode> {
  if (import.meta.url.endsWith('.ts')) return (await import('dockerode')).default;
  const bundle = createRequire(import.meta.url)('./dockerode-runtime.cjs') as { default: typeof Dockerode };
  return bundle.default;
}
