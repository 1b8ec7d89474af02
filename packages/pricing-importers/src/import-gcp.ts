import { type CatalogCsvRow, type CatalogDataV1, loadCatalog } from '@bp/pricing';
import { CredentialsError } from '@bp/provider';
import {
  catalogShapes,
  type ImportResult,
  lentSpecOrigins,
  roundPrice,
  sortRows,
  type TypeShape,
} from './catalog.js';
import { checkPageLimit, getJson, type ImportOptionsBase, isoDate, requestContext } from './http.js';

export interface ImportGcpOptions extends ImportOptionsBase {
  /** The Cloud Billing API base URL. Default `https://cloudbilling.googleapis.com/v1`. */
  endpoint?: string;
  /** An API key (sent as `key=`). One of `apiKey` and `token` is needed. */
  apiKey?: string;
  /** An OAuth access token (sent as `Authorization: Bearer`), e.g. from `gcloud auth print-access-token`. */
  token?: string;
  /** The catalog whose GCP machine types lend their shapes (vCPUs, memory, GPUs). Default: the shipped one. */
  catalog?: CatalogDataV1;
}

/** Compute Engine's service id in the Cloud Billing Catalog. */
export const COMPUTE_ENGINE_SERVICE = '6F81-5844-456A';
const DEFAULT_ENDPOINT = 'https://cloudbilling.googleapis.com/v1';

interface BillingSku {
  description?: string;
  category?: { resourceFamily?: string; resourceGroup?: string; usageType?: string };
  serviceRegions?: string[];
  pricingInfo?: {
    pricingExpression?: {
      usageUnit?: string;
      tieredRates?: {
        startUsageAmount?: number;
        unitPrice?: { currencyCode?: string; units?: string; nanos?: number };
      }[];
    };
  }[];
}

type Usage = 'onDemand' | 'spot';
type RateKind = 'core' | 'ram' | 'gpu' | 'machine';

/** Machine series whose SKU names do not start with the series: C2, M1 and the whole-machine f1/g1. */
const NAMED_SERIES: Record<string, string> = { 'Compute optimized': 'c2', 'Memory-optimized': 'm1' };
const MACHINE_GROUPS: Record<string, string> = { F1Micro: 'f1-micro', G1Small: 'g1-small' };
const WHOLE_MACHINES = new Set(Object.values(MACHINE_GROUPS));
/** GPU SKU names that differ from the catalog's model name. */
const GPU_ALIASES: Record<string, string> = { 'RTX-6000-96GB': 'RTX6000' };
const UNITS: Record<RateKind, string> = { core: 'h', ram: 'GiBy.h', gpu: 'h', machine: 'h' };

/**
 * Reads what a Compute Engine SKU prices, from its category and description:
 * "N2 Instance Core running in Americas" -> core of n2; "Spot Preemptible N2D AMD Instance Ram
 * running in Belgium" -> spot RAM of n2d; "Nvidia Tesla A100 80GB GPU running in Americas" -> GPU
 * A100-80GB. Custom, sole-tenant, commitment, licence and other SKUs give undefined.
 */
function classify(sku: BillingSku): { kind: RateKind; key: string; usage: Usage } | undefined {
  const { resourceFamily, resourceGroup = '', usageType } = sku.category ?? {};
  const usage = usageType === 'OnDemand' ? 'onDemand' : usageType === 'Preemptible' ? 'spot' : undefined;
  if (resourceFamily !== 'Compute' || !usage) return undefined;
  const description = (sku.description ?? '').replace(/^(Spot )?Preemptible /, '');
  if (MACHINE_GROUPS[resourceGroup]) return { kind: 'machine', key: MACHINE_GROUPS[resourceGroup]!, usage };
  if (resourceGroup === 'GPU') {
    const gpu = /^(?:Nvidia )?(?:Tesla )?(.+?)(?: GPU)? (?:running in|attached to Spot)/.exec(description);
    if (!gpu) return undefined;
    const model = gpu[1]!.toUpperCase().replace(/\s+/g, '-');
    return { kind: 'gpu', key: GPU_ALIASES[model] ?? model, usage };
  }
  const match = /^(.+?) (?:Instance )?(Core|Ram) running in /.exec(description);
  if (!match) return undefined;
  const kind = match[2] === 'Core' ? 'core' : 'ram';
  const named = NAMED_SERIES[match[1]!];
  if (named) return { kind, key: named, usage };
  const series = /^([A-Z]\d+[A-Z]?)(?: (?:AMD|Arm|Intel|Predefined|Memory-optimized))?$/.exec(match[1]!);
  return series ? { kind, key: series[1]!.toLowerCase(), usage } : undefined;
}

function unitPrice(sku: BillingSku, kind: RateKind): number | undefined {
  const expression = sku.pricingInfo?.[0]?.pricingExpression;
  const rate =
    expression?.tieredRates?.find((tier) => !tier.startUsageAmount) ?? expression?.tieredRates?.[0];
  if (expression?.usageUnit !== UNITS[kind] || !rate?.unitPrice || rate.unitPrice.currencyCode !== 'USD')
    return undefined;
  return Number(rate.unitPrice.units ?? 0) + (rate.unitPrice.nanos ?? 0) / 1e9;
}

/**
 * Imports GCP Compute Engine prices from the Cloud Billing Catalog API (SKUs of service
 * 6F81-5844-456A): per region and machine series the on-demand and spot prices of one vCPU-hour
 * and one GiB-hour, and per GPU model the GPU-hour. Each predefined machine type of `catalog`
 * (its vCPUs, memory and GPUs) is then priced the way GCE bills it: vCPUs × core + GiB × RAM
 * + GPUs × GPU, in every region that prices all of its parts. f1-micro and g1-small have
 * whole-machine SKUs. Throws CredentialsError without a key or token, or when Google refuses it.
 */
export async function importGcp(options: ImportGcpOptions = {}): Promise<ImportResult> {
  const fetchedAt = (options.now ?? (() => new Date()))();
  const credentialsSource = options.token ? 'the token option' : 'the apiKey option';
  if (!options.apiKey && !options.token)
    throw new CredentialsError({
      message:
        'gcp: the Cloud Billing Catalog API needs an API key (apiKey) or an OAuth access token (token)',
      provider: 'gcp',
      source: 'apiKey / token options',
    });
  const context = requestContext('gcp', options, credentialsSource);
  const endpoint = (options.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};

  // rates.get(`${usage} ${kind} ${key} ${region}`) = USD per unit.
  const rates = new Map<string, number>();
  let skus = 0;
  let unmapped = 0;
  let pageToken = '';
  for (let pages = 1; ; pages++) {
    checkPageLimit(context, 'skus.list', pages);
    const query = new URLSearchParams({ currencyCode: 'USD', pageSize: '5000' });
    if (pageToken) query.set('pageToken', pageToken);
    if (options.apiKey && !options.token) query.set('key', options.apiKey);
    const url = `${endpoint}/services/${COMPUTE_ENGINE_SERVICE}/skus?${query}`;
    const page = (await getJson(context, 'skus.list', url, headers)) as {
      skus?: BillingSku[];
      nextPageToken?: string;
    };
    for (const sku of page.skus ?? []) {
      skus++;
      const what = classify(sku);
      const price = what && unitPrice(sku, what.kind);
      if (!what || price === undefined) {
        if (sku.category?.resourceFamily === 'Compute') unmapped++;
        continue;
      }
      for (const region of sku.serviceRegions ?? []) {
        const key = `${what.usage} ${what.kind} ${what.key} ${region}`;
        if (!rates.has(key)) rates.set(key, price);
      }
    }
    pageToken = page.nextPageToken ?? '';
    if (!pageToken) break;
  }

  const catalog = options.catalog ?? loadCatalog().data;
  const regions = [...new Set([...rates.keys()].map((key) => key.split(' ')[3]!))].sort();
  const rate = (usage: Usage, kind: RateKind, key: string, region: string) =>
    rates.get(`${usage} ${kind} ${key} ${region}`);
  const priceOf = (usage: Usage, type: string, shape: TypeShape, region: string): number | null => {
    if (WHOLE_MACHINES.has(type)) return rate(usage, 'machine', type, region) ?? null;
    const series = type.split('-')[0]!;
    const core = rate(usage, 'core', series, region);
    const ram = rate(usage, 'ram', series, region);
    const gpu = shape.gpuCount ? rate(usage, 'gpu', shape.gpuModel ?? '', region) : 0;
    if (core === undefined || ram === undefined || gpu === undefined) return null;
    if (shape.vcpus === null || shape.memoryGib === null) return null;
    return roundPrice(shape.vcpus * core + shape.memoryGib * ram + (shape.gpuCount ?? 0) * gpu);
  };
  const rows: CatalogCsvRow[] = [];
  const priced = new Set<string>();
  const shapes = catalogShapes(catalog, 'gcp');
  for (const [type, shape] of shapes) {
    for (const region of regions) {
      const price = priceOf('onDemand', type, shape, region);
      if (price === null) continue;
      priced.add(type);
      rows.push({
        provider: 'gcp',
        instanceType: type,
        region,
        ...shape,
        priceHourlyUsd: price,
        spotPriceHourlyUsd: priceOf('spot', type, shape, region),
      });
    }
  }

  return {
    provider: 'gcp',
    rows: sortRows(rows),
    provenance: {
      provider: 'gcp',
      api: 'Cloud Billing Catalog API (services.skus.list, Compute Engine)',
      endpoints: [endpoint],
      fetchedAt: fetchedAt.toISOString(),
      requests: context.requests,
      origins: [
        {
          role: 'prices (vCPU, RAM and GPU hours, on-demand and spot)',
          repository: 'Cloud Billing Catalog API',
          license: 'Google Cloud public list prices (API response)',
          path: `${endpoint}/services/${COMPUTE_ENGINE_SERVICE}/skus?currencyCode=USD`,
          commit: `fetched ${fetchedAt.toISOString()}`,
          date: isoDate(fetchedAt),
          note: `${context.requests} requests, ${skus} SKUs`,
        },
        ...lentSpecOrigins(catalog, 'gcp', 'machine-type shapes (vCPUs, memory, GPUs)'),
      ],
      notes: [
        `Machine types and their shapes come from bp catalog ${catalog.version}; the Billing Catalog has prices only. A type is priced as vCPUs × core-hour + GiB × RAM-hour (+ GPUs × GPU-hour) of its series, as GCE bills predefined types.`,
        `${priced.size} of ${shapes.size} machine types were priced; the others have no matching SKUs (custom and m2 types, series whose SKU names are not "<SERIES> Instance Core|Ram").`,
        'A type gets a row in every region whose SKUs price its series (and GPU): a region may sell the series but not that size.',
        'Local SSD bundled with some types (e.g. a3, -lssd) is not included.',
        'Shared-core types (e2-micro 0.25, e2-small 0.5, e2-medium 1) are billed for their fractional vCPU; f1-micro and g1-small have whole-machine SKUs.',
        `${unmapped} Compute SKUs (commitments, custom, sole-tenant, licences, ...) were not used.`,
      ],
    },
  };
}
