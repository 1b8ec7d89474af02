import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstallCatalogResult } from '@bp/pricing';
import { ValidationError } from '@bp/provider';

/** What `bp catalog refresh` asks of one cloud's pricing API. */
export interface CatalogRefreshRequest {
  provider: string;
  /** Regions to price (AWS needs at least one; default us-east-1). Azure: default every region. */
  regions?: string[];
  /** The API's base URL, e.g. a mirror; default the cloud's own. */
  endpoint?: string;
  /** The variable holding a GCP API key (default GOOGLE_API_KEY); a token in GOOGLE_OAUTH_ACCESS_TOKEN also works. */
  apiKeyVariable?: string;
  signal?: AbortSignal;
}

/** The installed catalog, and how many rows the cloud's API gave. */
export interface CatalogRefreshResult extends InstallCatalogResult {
  provider: string;
  rows: number;
  requests: number;
}

/**
 * Prices one cloud from its own API, merges it into the catalog in use (the other clouds are
 * kept), and installs the result for this user. Nothing is installed unless the import succeeds.
 */
export async function refreshCatalog(
  request: CatalogRefreshRequest,
  userDir: string,
  environment: NodeJS.ProcessEnv = process.env,
): Promise<CatalogRefreshResult> {
  const provider = request.provider.toLowerCase();
  if (!['aws', 'azure', 'gcp'].includes(provider)) {
    throw new ValidationError({
      path: '--provider',
      reason: `'${request.provider}' has no pricing API bp can read (aws, azure, gcp)`,
    });
  }
  const pricing = await import('@bp/pricing');
  const importers = await import('@bp/pricing-importers');
  const base = pricing.loadCatalog({ userDir }).data;
  const common = { signal: request.signal };
  let result: Awaited<ReturnType<typeof importers.importAzure>>;
  if (provider === 'aws') {
    result = await importers.importAws({
      ...common,
      regions: request.regions?.length ? request.regions : ['us-east-1'],
      pricingEndpoint: request.endpoint,
      ec2Endpoint: request.endpoint,
    });
  } else if (provider === 'azure') {
    result = await importers.importAzure({
      ...common,
      regions: request.regions,
      endpoint: request.endpoint,
      catalog: base,
    });
  } else {
    const variable = request.apiKeyVariable ?? 'GOOGLE_API_KEY';
    result = await importers.importGcp({
      ...common,
      endpoint: request.endpoint,
      apiKey: environment[variable],
      token: environment.GOOGLE_OAUTH_ACCESS_TOKEN,
      catalog: base,
    });
  }
  const data = importers.buildCatalog(
    { [provider]: result.rows },
    { [provider]: result.provenance },
    { base },
  );
  const file = join(userDir, `.catalog-${process.pid}.json.gz`);
  try {
    importers.writeCatalog(file, data);
    const installed = pricing.installCatalog(file, userDir);
    return { ...installed, provider, rows: result.rows.length, requests: result.provenance.requests };
  } finally {
    await rm(file, { force: true });
  }
}
