import { type CatalogCsvRow, type CatalogDataV1, loadCatalog } from '@bp/pricing';
import { ValidationError } from '@bp/provider';
import { catalogShapes, type ImportResult, lentSpecOrigins, roundPrice, sortRows } from './catalog.js';
import { checkPageLimit, getJson, type ImportOptionsBase, isoDate, requestContext } from './http.js';

export interface ImportAzureOptions extends ImportOptionsBase {
  /** ARM region names to price, e.g. `['eastus', 'westeurope']`. Default: every region. */
  regions?: string[];
  /** The Retail Prices API URL. Default `https://prices.azure.com/api/retail/prices`. */
  endpoint?: string;
  /** The catalog whose Azure sizes lend vCPUs, memory and GPU counts. Default: the shipped one. */
  catalog?: CatalogDataV1;
}

/** One price item of the Retail Prices API (the fields read). */
interface RetailPriceItem {
  currencyCode?: string;
  retailPrice?: number;
  armRegionName?: string;
  armSkuName?: string;
  effectiveStartDate?: string;
  productName?: string;
  skuName?: string;
  meterName?: string;
  serviceName?: string;
  unitOfMeasure?: string;
  type?: string;
}

interface RetailPricesPage {
  Items?: RetailPriceItem[];
  NextPageLink?: string | null;
}

const DEFAULT_ENDPOINT = 'https://prices.azure.com/api/retail/prices';

/**
 * Imports Azure VM Linux prices from the Retail Prices API (pay-as-you-go, USD): on-demand from
 * the Linux meters (products without "Windows", meters without "Spot" or "Low Priority") and spot
 * from the "Spot" meters. The API has no specs: vCPUs, memory and GPU counts come from `catalog`
 * for the same size name, and stay empty for sizes it lacks. The API is anonymous; failures are
 * ProviderCallErrors.
 */
export async function importAzure(options: ImportAzureOptions = {}): Promise<ImportResult> {
  const fetchedAt = (options.now ?? (() => new Date()))();
  const context = requestContext('azure', options);
  const endpoint = options.endpoint ?? DEFAULT_ENDPOINT;
  const badRegion = options.regions?.find((region) => !/^[a-z0-9]+$/.test(region));
  if (badRegion !== undefined)
    throw new ValidationError({ reason: `not an Azure region name: ${badRegion}`, path: 'regions' });
  const regionFilter = options.regions?.length
    ? ` and (${options.regions.map((region) => `armRegionName eq '${region}'`).join(' or ')})`
    : '';
  const filter = `serviceName eq 'Virtual Machines' and priceType eq 'Consumption'${regionFilter}`;
  const firstPage = `${endpoint}${endpoint.includes('?') ? '&' : '?'}$filter=${encodeURIComponent(filter)}`;

  const found = new Map<string, { onDemand?: PriceSeen; spot?: PriceSeen }>();
  const skipped = { windows: 0, lowPriority: 0, zero: 0, notVm: 0, duplicates: 0 };
  let url: string | undefined = firstPage;
  for (let pages = 1; url; pages++) {
    checkPageLimit(context, 'retail prices', pages);
    const page = (await getJson(context, 'retail prices', url)) as RetailPricesPage;
    for (const item of page.Items ?? []) {
      const sku = item.armSkuName ?? '';
      const names = `${item.skuName ?? ''} ${item.meterName ?? ''}`;
      if (
        item.type !== 'Consumption' ||
        item.serviceName !== 'Virtual Machines' ||
        item.unitOfMeasure !== '1 Hour' ||
        item.currencyCode !== 'USD' ||
        !item.armRegionName
      )
        continue;
      // Dedicated hosts and other non-size SKUs: the catalog holds VM sizes only.
      if (!/^(Standard|Basic)_/.test(sku)) skipped.notVm++;
      else if (item.productName?.includes('Windows')) skipped.windows++;
      else if (names.includes('Low Priority')) skipped.lowPriority++;
      else if (!((item.retailPrice ?? 0) > 0)) skipped.zero++;
      else {
        const key = `${sku}\u0000${item.armRegionName}`;
        const entry = found.get(key) ?? {};
        const kind = names.includes('Spot') ? 'spot' : 'onDemand';
        const seen = { price: item.retailPrice!, since: item.effectiveStartDate ?? '' };
        const previous = entry[kind];
        if (previous) skipped.duplicates++;
        // A meter listed twice: the price that took effect last is the current one.
        if (!previous || seen.since > previous.since) entry[kind] = seen;
        found.set(key, entry);
      }
    }
    url = page.NextPageLink ? onEndpoint(page.NextPageLink, endpoint) : undefined;
  }

  const catalog = options.catalog ?? loadCatalog().data;
  const shapes = catalogShapes(catalog, 'azure');
  const rows: CatalogCsvRow[] = [];
  const withSpecs = new Set<string>();
  const withoutSpecs = new Set<string>();
  let spotOnly = 0;
  for (const [key, { onDemand, spot }] of found) {
    const [sku, region] = key.split('\u0000') as [string, string];
    if (!onDemand) {
      spotOnly++;
      continue;
    }
    const shape = shapes.get(sku);
    (shape?.vcpus != null ? withSpecs : withoutSpecs).add(sku);
    rows.push({
      provider: 'azure',
      instanceType: sku,
      region,
      vcpus: shape?.vcpus ?? null,
      memoryGib: shape?.memoryGib ?? null,
      gpuModel: shape?.gpuModel ?? null,
      gpuCount: shape?.gpuCount ?? null,
      gpuMemoryGib: shape?.gpuMemoryGib ?? null,
      priceHourlyUsd: roundPrice(onDemand.price),
      spotPriceHourlyUsd: spot ? roundPrice(spot.price) : null,
    });
  }

  return {
    provider: 'azure',
    rows: sortRows(rows),
    provenance: {
      provider: 'azure',
      api: 'Azure Retail Prices API',
      endpoints: [endpoint],
      fetchedAt: fetchedAt.toISOString(),
      requests: context.requests,
      origins: [
        {
          role: 'prices (Linux on-demand and spot)',
          repository: 'Azure Retail Prices API',
          license: 'Azure public retail prices (API response)',
          path: `${endpoint}?$filter=${filter}`,
          commit: `fetched ${fetchedAt.toISOString()}`,
          date: isoDate(fetchedAt),
          note: `${context.requests} requests`,
        },
        ...lentSpecOrigins(catalog, 'azure', 'specs (vCPUs, memory, GPU count)'),
      ],
      notes: [
        `Linux prices only: ${skipped.windows} Windows items and ${skipped.lowPriority} Low Priority items were left out; Spot meters give the spot price.`,
        `The Retail Prices API has no specs: vCPUs, memory and GPU counts come from bp catalog ${catalog.version} for the same size name (${withSpecs.size} sizes); ${withoutSpecs.size} sizes have none there and their specs are empty.`,
        'No GPU model in the API; it is read from the size name where the name carries it (e.g. _A100_).',
        ...(skipped.zero ? [`${skipped.zero} items with a retail price of 0 were left out.`] : []),
        ...(skipped.notVm
          ? [`${skipped.notVm} items that are not VM sizes (e.g. dedicated hosts) were left out.`]
          : []),
        ...(skipped.duplicates
          ? [
              `${skipped.duplicates} meters were listed twice; the price with the latest effectiveStartDate is kept.`,
            ]
          : []),
        ...(spotOnly
          ? [`${spotOnly} size-region pairs had a spot price but no Linux on-demand price and were left out.`]
          : []),
      ],
    },
  };
}

interface PriceSeen {
  price: number;
  /** effectiveStartDate, ISO 8601 (compares as text). */
  since: string;
}

/**
 * The API's NextPageLink with the host of `endpoint`: the link is absolute (and names
 * prices.azure.com:443), so following it as-is would leave an overridden endpoint.
 */
function onEndpoint(link: string, endpoint: string): string {
  const next = new URL(link);
  const url = new URL(endpoint);
  url.search = next.search;
  return url.toString();
}
