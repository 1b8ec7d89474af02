import type { CatalogCsvRow, CatalogOriginV1 } from '@bp/pricing';
import { type ImportResult, roundPrice, sortRows, type TypeShape } from './catalog.js';
import {
  checkPageLimit,
  countRequests,
  type ImportOptionsBase,
  isoDate,
  type RequestContext,
  requestContext,
} from './http.js';
import { mapAwsError } from './map-aws-error.js';

export interface ImportAwsOptions extends ImportOptionsBase {
  /** Regions to price, e.g. `['us-east-1', 'eu-west-1']`. */
  regions: string[];
  /** Price List API endpoint, e.g. a local server in tests. Default: the SDK's for `pricingRegion`. */
  pricingEndpoint?: string;
  /** Region of the Price List API: `us-east-1` (default), `eu-central-1` or `ap-south-1`. */
  pricingRegion?: string;
  /** EC2 endpoint used for every region, e.g. a local server in tests. Default: the SDK's per region. */
  ec2Endpoint?: string;
  /** Static credentials. Default: the SDK's default chain (AWS_* variables, AWS_PROFILE, ~/.aws, SSO, IMDS). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** Linux on shared hosts, no pre-installed software, used capacity (not reservations), on-demand. */
const LINUX_ON_DEMAND = {
  operatingSystem: 'Linux',
  preInstalledSw: 'NA',
  capacitystatus: 'Used',
  marketoption: 'OnDemand',
};
// The Price List files bare-metal types under tenancy Dedicated (Karpenter queries them the same way).
const PRODUCT_QUERIES = [
  { tenancy: 'Shared', productFamily: 'Compute Instance' },
  { tenancy: 'Dedicated', productFamily: 'Compute Instance (bare metal)' },
];
const SPOT_PRODUCTS = ['Linux/UNIX', 'Linux/UNIX (Amazon VPC)'];

/** The parts of a Price List product (a JSON string in GetProducts' PriceList) that are read. */
interface PriceListProduct {
  product?: { attributes?: { instanceType?: string; regionCode?: string } };
  terms?: {
    OnDemand?: Record<
      string,
      { priceDimensions?: Record<string, { unit?: string; pricePerUnit?: { USD?: string } }> }
    >;
  };
}

/** The hourly USD on-demand price of a Price List product, or undefined. */
function onDemandPrice(product: PriceListProduct): number | undefined {
  for (const term of Object.values(product.terms?.OnDemand ?? {}))
    for (const dimension of Object.values(term.priceDimensions ?? {})) {
      const price = Number(dimension.pricePerUnit?.USD);
      if (dimension.unit === 'Hrs' && price > 0) return price;
    }
  return undefined;
}

type PricingSdk = typeof import('@aws-sdk/client-pricing');
type Ec2Sdk = typeof import('@aws-sdk/client-ec2');

/** What the per-API readers below share for one region. */
interface RegionCalls {
  region: string;
  context: RequestContext;
  sdk: PricingSdk & Ec2Sdk;
  pricing: InstanceType<PricingSdk['PricingClient']>;
  ec2: InstanceType<Ec2Sdk['EC2Client']>;
}

/** Price List GetProducts: on-demand USD per hour by instance type (shared and bare-metal queries). */
async function readOnDemand(
  calls: RegionCalls,
): Promise<{ prices: Map<string, number>; duplicates: number }> {
  const { region, context, sdk, pricing } = calls;
  const prices = new Map<string, number>();
  let duplicates = 0;
  const read = (query: Record<string, string>) =>
    paginate(
      context,
      'GetProducts',
      (token) =>
        pricing.send(
          new sdk.GetProductsCommand({
            ServiceCode: 'AmazonEC2',
            Filters: Object.entries({ regionCode: region, ...LINUX_ON_DEMAND, ...query }).map(
              ([field, value]) => ({ Type: 'TERM_MATCH' as const, Field: field, Value: value }),
            ),
            FormatVersion: 'aws_v1',
            MaxResults: 100,
            NextToken: token,
          }),
          { abortSignal: context.signal },
        ),
      (output) => {
        for (const item of output.PriceList ?? []) {
          // Each entry is one product as a JSON string (the SDK boxes it in a String object).
          const product = JSON.parse(String(item)) as PriceListProduct;
          const attributes = product.product?.attributes;
          const price = onDemandPrice(product);
          if (!attributes?.instanceType || attributes.regionCode !== region || price === undefined) continue;
          if (prices.has(attributes.instanceType)) duplicates++;
          else prices.set(attributes.instanceType, price);
        }
        return output.NextToken;
      },
    );
  await Promise.all(PRODUCT_QUERIES.map(read));
  return { prices, duplicates };
}

/** EC2 DescribeInstanceTypes: vCPUs, memory and GPUs, added to `specs` (first region wins). */
async function readSpecs(calls: RegionCalls, specs: Map<string, TypeShape>): Promise<void> {
  const { context, sdk, ec2 } = calls;
  await paginate(
    context,
    'DescribeInstanceTypes',
    (token) =>
      ec2.send(new sdk.DescribeInstanceTypesCommand({ MaxResults: 100, NextToken: token }), {
        abortSignal: context.signal,
      }),
    (output) => {
      for (const info of output.InstanceTypes ?? []) {
        if (!info.InstanceType || specs.has(info.InstanceType)) continue;
        const gpus = info.GpuInfo?.Gpus ?? [];
        const mib = info.MemoryInfo?.SizeInMiB;
        const gpuMib = gpus[0]?.MemoryInfo?.SizeInMiB;
        specs.set(info.InstanceType, {
          vcpus: info.VCpuInfo?.DefaultVCpus ?? null,
          memoryGib: mib === undefined ? null : mib / 1024,
          // The catalog's AWS GPU names: upper case, words joined by '-' (RADEON-PRO-V520).
          gpuModel: gpus[0]?.Name ? gpus[0].Name.toUpperCase().replace(/\s+/g, '-') : null,
          gpuCount: gpus.length ? gpus.reduce((sum, device) => sum + (device.Count ?? 0), 0) : null,
          gpuMemoryGib: gpuMib === undefined ? null : gpuMib / 1024,
        });
      }
      return output.NextToken;
    },
  );
}

/**
 * EC2 DescribeSpotPriceHistory from `at`: per instance type, the lowest over the region's
 * availability zones of each zone's current Linux/UNIX price (its newest entry).
 */
async function readSpot(calls: RegionCalls, at: Date): Promise<Map<string, number>> {
  const { context, sdk, ec2 } = calls;
  const zonePrices = new Map<string, { type: string; price: number; time: number }>();
  await paginate(
    context,
    'DescribeSpotPriceHistory',
    (token) =>
      ec2.send(
        new sdk.DescribeSpotPriceHistoryCommand({
          ProductDescriptions: SPOT_PRODUCTS,
          StartTime: at,
          MaxResults: 1000,
          NextToken: token,
        }),
        { abortSignal: context.signal },
      ),
    (output) => {
      for (const entry of output.SpotPriceHistory ?? []) {
        const price = Number(entry.SpotPrice);
        const time = entry.Timestamp?.getTime() ?? 0;
        if (!entry.InstanceType || !entry.AvailabilityZone || !(price > 0)) continue;
        // The history also holds the price before `at`, and changes since: the newest one is current.
        const key = `${entry.InstanceType} ${entry.AvailabilityZone}`;
        const seen = zonePrices.get(key);
        if (!seen || time > seen.time) zonePrices.set(key, { type: entry.InstanceType, price, time });
      }
      return output.NextToken;
    },
  );
  const lowest = new Map<string, number>();
  for (const { type, price } of zonePrices.values())
    lowest.set(type, Math.min(price, lowest.get(type) ?? Number.POSITIVE_INFINITY));
  return lowest;
}

/**
 * Imports AWS EC2 Linux prices for `regions`: on-demand from the Price List API (GetProducts),
 * vCPUs, memory and GPUs from EC2 DescribeInstanceTypes, and spot from EC2
 * DescribeSpotPriceHistory (the price in effect at the fetch time in each availability zone; the
 * row gets the lowest over the region's zones). Only types with an on-demand price get a row.
 * Throws CredentialsError when AWS refuses the credentials, ProviderCallError on other failures.
 */
export async function importAws(options: ImportAwsOptions): Promise<ImportResult> {
  const fetchedAt = (options.now ?? (() => new Date()))();
  const credentialsSource = options.credentials
    ? 'the credentials option'
    : 'the AWS SDK default chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/config, SSO, instance role)';
  const context = requestContext('aws', options, credentialsSource);
  // The SDKs are loaded here, not at import: `bp --help` and estimates never pay for them.
  const [pricingSdk, ec2Sdk] = await Promise.all([
    import('@aws-sdk/client-pricing'),
    import('@aws-sdk/client-ec2'),
  ]);
  const sdk = { ...pricingSdk, ...ec2Sdk };
  const clientSettings = { credentials: options.credentials, maxAttempts: context.maxRetries + 1 };
  const pricingRegion = options.pricingRegion ?? 'us-east-1';
  const pricing = new sdk.PricingClient({
    ...clientSettings,
    region: pricingRegion,
    endpoint: options.pricingEndpoint,
  });

  const onDemand = new Map<string, Map<string, number>>();
  const spot = new Map<string, Map<string, number>>();
  const specs = new Map<string, TypeShape>();
  let duplicates = 0;
  try {
    for (const region of options.regions) {
      const ec2 = new sdk.EC2Client({ ...clientSettings, region, endpoint: options.ec2Endpoint });
      const calls = { region, context, sdk, pricing, ec2 };
      try {
        const [prices, , lowest] = await Promise.all([
          readOnDemand(calls),
          readSpecs(calls, specs),
          readSpot(calls, fetchedAt),
        ]);
        onDemand.set(region, prices.prices);
        duplicates += prices.duplicates;
        spot.set(region, lowest);
      } finally {
        ec2.destroy();
      }
    }
  } finally {
    pricing.destroy();
  }

  const rows: CatalogCsvRow[] = [];
  const noSpecs = new Set<string>();
  let spotOnly = 0;
  for (const region of options.regions) {
    const regionSpot = spot.get(region)!;
    for (const [type, price] of onDemand.get(region)!) {
      const spec = specs.get(type);
      if (!spec) noSpecs.add(type);
      rows.push({
        provider: 'aws',
        instanceType: type,
        region,
        ...(spec ?? { vcpus: null, memoryGib: null, gpuModel: null, gpuCount: null, gpuMemoryGib: null }),
        priceHourlyUsd: roundPrice(price),
        spotPriceHourlyUsd: regionSpot.has(type) ? roundPrice(regionSpot.get(type)!) : null,
      });
    }
    for (const type of regionSpot.keys()) if (!onDemand.get(region)!.has(type)) spotOnly++;
  }

  const endpoints = [
    options.pricingEndpoint ?? `https://api.pricing.${pricingRegion}.amazonaws.com`,
    options.ec2Endpoint ?? 'https://ec2.<region>.amazonaws.com',
  ];
  const origin = (role: string, repository: string, path: string, operation: string): CatalogOriginV1 => ({
    role,
    repository,
    license: 'AWS public price list (API response)',
    path,
    commit: `fetched ${fetchedAt.toISOString()}`,
    date: isoDate(fetchedAt),
    note: `${context.requestsByOperation[operation] ?? 0} ${operation} requests for ${options.regions.join(', ')}`,
  });
  return {
    provider: 'aws',
    rows: sortRows(rows),
    provenance: {
      provider: 'aws',
      api: 'AWS Price List Query API (GetProducts); Amazon EC2 DescribeInstanceTypes and DescribeSpotPriceHistory',
      endpoints,
      fetchedAt: fetchedAt.toISOString(),
      requests: context.requests,
      origins: [
        origin(
          'prices (on-demand)',
          'AWS Price List Query API',
          `${endpoints[0]} GetProducts AmazonEC2`,
          'GetProducts',
        ),
        origin('specs', 'Amazon EC2 API', `${endpoints[1]} DescribeInstanceTypes`, 'DescribeInstanceTypes'),
        origin(
          'spot prices',
          'Amazon EC2 API',
          `${endpoints[1]} DescribeSpotPriceHistory`,
          'DescribeSpotPriceHistory',
        ),
      ],
      notes: [
        `Regions: ${options.regions.join(', ')}.`,
        'On-demand: Linux, shared tenancy (bare metal: dedicated), no pre-installed software, capacitystatus Used.',
        `Spot: the Linux/UNIX price in effect at ${fetchedAt.toISOString()} in each availability zone; a row has the lowest over its region's zones.`,
        'Inferentia, Trainium and other accelerators outside GpuInfo are not counted as GPUs.',
        ...(noSpecs.size
          ? [
              `${noSpecs.size} priced types are not in DescribeInstanceTypes of these regions; their specs are empty.`,
            ]
          : []),
        ...(spotOnly
          ? [`${spotOnly} type-region pairs had a spot price but no on-demand price and were left out.`]
          : []),
        ...(duplicates
          ? [`${duplicates} duplicate Price List products were ignored (the first one is kept).`]
          : []),
      ],
    },
  };
}

/** Sends one SDK request per page until `onPage` returns no next token, counting the HTTP attempts. */
async function paginate<Output extends { $metadata: { attempts?: number } }>(
  context: RequestContext,
  operation: string,
  send: (token: string | undefined) => Promise<Output>,
  onPage: (output: Output) => string | undefined,
): Promise<void> {
  let token: string | undefined;
  for (let pages = 1; ; pages++) {
    checkPageLimit(context, operation, pages);
    let output: Output;
    try {
      output = await send(token);
    } catch (error) {
      const attempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts;
      countRequests(context, operation, attempts ?? 1);
      throw mapAwsError(error, operation, context.credentialsSource ?? '', context.signal);
    }
    countRequests(context, operation, output.$metadata.attempts ?? 1);
    token = onPage(output) || undefined;
    if (!token) return;
  }
}
