#!/usr/bin/env node
// Builds bp's shipped price catalog (catalog/catalog.bin, the binary form) from the offline CSVs.
//
//   node scripts/build-catalog.mjs [--from DIR] [--out FILE] [--version YYYY-MM-DD[.N]]
//                                  [--provenance FILE.json] [--storage FILE.json]
//
// An --out FILE ending in .json or .json.gz gets the JSON format instead (gzipped for .gz): what
// `bp catalog update --from FILE` documents and validates.
// --from defaults to ../../../shared/catalog (beside the monorepo). Each of aws.csv, gcp.csv
// and azure.csv must have the columns
//   provider,instance_type,region,zone,vcpus,memory_gib,gpu_model,gpu_count,gpu_memory_gib,
//   price_hourly_usd,spot_price_hourly_usd
// The provenance of the CSVs (source repositories, commits, dates) is known here for the
// files SOURCE.md describes, recognised by their SHA-256. A newer CSV needs --provenance:
// a JSON file { "<provider>": { "dataDate": "YYYY-MM-DD", "origins": [...], "notes": [...] } }.
// The output is deterministic: the same inputs give the same bytes. The CSV -> catalog logic is
// src/catalog-builder.ts (shared with @bp/pricing-importers), the binary form src/catalog-binary.ts;
// both are imported as TypeScript: this script needs a Node.js that strips types by default
// (22.18+, 23.6+ or 24, as in the repository's tools).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
// The builder is shared with @bp/pricing-importers; Node runs the TypeScript files directly.
import { encodeCatalog } from '../src/catalog-binary.ts';
import { buildCatalogData } from '../src/catalog-builder.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = resolve(HERE, '..');
const PROVIDERS = ['aws', 'gcp', 'azure'];

/** What SOURCE.md documents for the CSVs it describes, keyed by provider and SHA-256. */
const KNOWN_PROVENANCE = {
  aws: {
    sha256: '4c9a76f9c42c20755fab0bab6807dea8d1b6f609ac0b336a6fbe2da74b0beae5',
    dataDate: '2026-07-20',
    origins: [
      {
        role: 'prices (us-east-1)',
        repository: 'aws/karpenter-provider-aws',
        license: 'Apache-2.0',
        snapshot: '1d927085dd81a9df9301e613f371dac5b4d16bfe',
        path: 'pkg/providers/pricing/zz_generated.pricing_aws.go',
        commit: '6fc13b5236fd04fd16ff3f9dc7490d0813994099',
        date: '2026-07-20',
        note: 'generated at 2026-07-20T13:44:30Z from the AWS Price List API',
      },
      {
        role: 'prices (us-gov-east-1, us-gov-west-1)',
        repository: 'aws/karpenter-provider-aws',
        license: 'Apache-2.0',
        snapshot: '1d927085dd81a9df9301e613f371dac5b4d16bfe',
        path: 'pkg/providers/pricing/zz_generated.pricing_aws_us_gov.go',
        commit: '6fc13b5236fd04fd16ff3f9dc7490d0813994099',
        date: '2026-07-20',
        note: 'generated at 2026-07-20T13:44:38Z',
      },
      {
        role: 'specs',
        repository: 'aws/karpenter-provider-aws',
        license: 'Apache-2.0',
        snapshot: '1d927085dd81a9df9301e613f371dac5b4d16bfe',
        path: 'website/content/en/docs/reference/instance-types.md',
        commit: '692ccdd0629e488300821443f0fa0bc3c3e08047',
        date: '2026-07-11',
        note: 'Karpenter v1.14.0 docs, generated from EC2 DescribeInstanceTypes',
      },
      {
        role: 'specs (fallback)',
        repository: 'kubernetes/autoscaler',
        license: 'Apache-2.0',
        snapshot: '55c37cd5eb550756c5ccc5a89e9068d77797e575',
        path: 'cluster-autoscaler/cloudprovider/aws/ec2_instance_types.go',
        commit: 'e964265b7440c0faa751f28f77b18166584d001d',
        date: '2026-01-22',
        note: 'StaticListLastUpdateTime 2026-01-22; no GPU model',
      },
    ],
    notes: [
      'Only 3 regions: us-east-1, us-gov-east-1, us-gov-west-1 (China regions left out: prices in CNY).',
      'No spot prices.',
      '18 old types have no vCPU/memory specs (p2, g2/g3, cc2, cr1, hs1, i3p, u-*tb1, i3.metal).',
      'Inferentia and Trainium accelerators are not counted as GPUs.',
    ],
  },
  gcp: {
    sha256: 'cf6e66816860cf0a6e82796c30e3e3300356c294e6219a0e3dae1548650ee32c',
    dataDate: '2026-07-30',
    origins: [
      {
        role: 'prices, spot prices and specs',
        repository: 'Cyclenerd/google-cloud-pricing-cost-calculator',
        license: 'Apache-2.0',
        snapshot: 'dac31281f2a4575f0a8bff20ac04fc71a5ff2190',
        path: 'pricing.yml',
        commit: 'fd66b26ff84fee5cdd94f341ea89206e76c06b99',
        date: '2026-07-30',
        note: 'about.generated "Thu Jul 30 06:13:17 2026", built weekly from the Cloud Billing Catalog API',
      },
    ],
    notes: [
      'Shared-core types (e2-micro 0.25, e2-small 0.5, e2-medium 1, f1-micro 1, g1-small 1) carry a fractional vCPU share.',
      'gpu_memory_gib is known only for A100-80GB, H100-80GB and H100-80GB-MEGA.',
      '168 rows have no spot price.',
      '8 m4n-* types are missing (no prices in the source).',
    ],
  },
  azure: {
    sha256: 'b417bd6d90cbc8f767310e719a6310b0405f18ff084326a8ca4974fde11599b4',
    dataDate: '2026-06-18',
    origins: [
      {
        role: 'prices',
        repository: 'Azure/karpenter-provider-azure',
        license: 'Apache-2.0',
        snapshot: '352646f599290c3a6d2f9710fb535a7b288f88ed',
        path: 'pkg/providers/pricing/zz_generated.pricing.go',
        commit: '2b431da153a6a92b705c18046512c60b1631b682',
        date: '2026-06-18',
        note: 'generated at 2026-06-18T03:43:41Z from the Azure Retail Prices API',
      },
      {
        role: 'specs',
        repository: 'kubernetes/autoscaler',
        license: 'Apache-2.0',
        snapshot: '55c37cd5eb550756c5ccc5a89e9068d77797e575',
        path: 'cluster-autoscaler/cloudprovider/azure/azure_instance_types.go',
        commit: '03e49d9cb822bfdbc769cde771124f695f3f5619',
        date: '2026-03-17',
        note: 'VCPU, MemoryMb and GPU count',
      },
      {
        role: 'specs (fallback, 1 size)',
        repository: 'Azure/karpenter-provider-azure',
        license: 'Apache-2.0',
        snapshot: '352646f599290c3a6d2f9710fb535a7b288f88ed',
        path: 'pkg/fake/zz_generated.sku.southcentralus.go, pkg/fake/zz_generated.sku.westcentralus.go',
        commit: 'f4fb1c1d221908629e0d1c33451d0d5c420e42ff',
        date: '2025-06-03',
        note: 'SKU capability tables',
      },
    ],
    notes: [
      'No spot prices.',
      'Some rows carry a Windows price instead of the Linux one (e.g. Standard_D2as_v5 eastus 0.178, Linux 0.086); see the suspect rule.',
      '410 of 1,778 sizes have no vCPU/memory specs (mostly *_v7, *n*_v6, _Promo, A/Basic_A).',
      'No GPU model in the source; bp reads it from the size name where the name carries it (e.g. _A100_).',
      '68 rows had a list price of 0 and are written without a price.',
    ],
  },
};

function parseArguments(argv) {
  const options = {
    from: resolve(PACKAGE, '../../../shared/catalog'),
    out: join(PACKAGE, 'catalog/catalog.bin'),
    storage: join(HERE, 'storage-rates.json'),
  };
  for (let index = 0; index < argv.length; index++) {
    const name = argv[index];
    const value = argv[index + 1];
    const take = () => {
      if (value === undefined) throw new Error(`${name} needs a value`);
      index++;
      return value;
    };
    if (name === '--from') options.from = resolve(take());
    else if (name === '--out') options.out = resolve(take());
    else if (name === '--version') options.version = take();
    else if (name === '--provenance') options.provenance = resolve(take());
    else if (name === '--storage') options.storage = resolve(take());
    else if (name === '--help' || name === '-h') {
      console.log(
        'usage: build-catalog.mjs [--from DIR] [--out FILE] [--version YYYY-MM-DD[.N]] [--provenance FILE] [--storage FILE]',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${name}`);
  }
  return options;
}

function main() {
  const options = parseArguments(process.argv.slice(2));
  const extraProvenance = options.provenance ? JSON.parse(readFileSync(options.provenance, 'utf8')) : {};
  const storage = JSON.parse(readFileSync(options.storage, 'utf8'));
  const sourceNotes = existsSync(join(options.from, 'SOURCE.md'))
    ? readFileSync(join(options.from, 'SOURCE.md'), 'utf8')
    : '';
  const sources = PROVIDERS.map((provider) => {
    const label = join(options.from, `${provider}.csv`);
    const csv = readFileSync(label, 'utf8');
    const sha256 = createHash('sha256').update(csv).digest('hex');
    const known = KNOWN_PROVENANCE[provider];
    const provenance = extraProvenance[provider] ?? (known.sha256 === sha256 ? known : null);
    if (!provenance)
      throw new Error(
        `${label}: SHA-256 ${sha256} is not the one SOURCE.md documents; pass --provenance with its sources and date`,
      );
    const listedInSourceNotes = sourceNotes.includes(`${sha256}  ${provider}.csv`);
    return { provider, csv, label, provenance, listedInSourceNotes };
  });
  if (options.version !== undefined && !/^\d{4}-\d{2}-\d{2}(\.\d+)?$/.test(options.version))
    throw new Error(`--version must look like 2026-07-30 or 2026-07-30.2, not ${options.version}`);
  const catalog = buildCatalogData({
    sources,
    generator: 'packages/pricing/scripts/build-catalog.mjs',
    storage,
    version: options.version,
  });
  const json = JSON.stringify(catalog);
  const bytes = options.out.endsWith('.json')
    ? Buffer.from(json)
    : options.out.endsWith('.json.gz')
      ? gzipSync(json, { level: 9 })
      : encodeCatalog(catalog);
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, bytes);
  const counts = PROVIDERS.map((provider) => {
    const entry = catalog.providers[provider];
    return `${provider} ${entry.source.rows} rows, ${entry.types.name.length} types, ${entry.suspect.rows.length} suspect`;
  });
  console.log(
    `wrote ${options.out}: version ${catalog.version}, ${(bytes.length / 1024).toFixed(0)} KiB (${(json.length / 1024).toFixed(0)} KiB as JSON); ${counts.join('; ')}`,
  );
}

main();
