#!/usr/bin/env node
// Builds bp's shipped price catalog (catalog/catalog.json.gz) from the offline CSVs.
//
//   node scripts/build-catalog.mjs [--from DIR] [--out FILE] [--version YYYY-MM-DD[.N]]
//                                  [--provenance FILE.json] [--storage FILE.json]
//
// --from defaults to ../../../shared/catalog (beside the monorepo). Each of aws.csv, gcp.csv
// and azure.csv must have the columns
//   provider,instance_type,region,zone,vcpus,memory_gib,gpu_model,gpu_count,gpu_memory_gib,
//   price_hourly_usd,spot_price_hourly_usd
// The provenance of the CSVs (source repositories, commits, dates) is known here for the
// files SOURCE.md describes, recognised by their SHA-256. A newer CSV needs --provenance:
// a JSON file { "<provider>": { "dataDate": "YYYY-MM-DD", "origins": [...], "notes": [...] } }.
// The output is deterministic: the same inputs give the same bytes.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = resolve(HERE, '..');
const HEADER =
  'provider,instance_type,region,zone,vcpus,memory_gib,gpu_model,gpu_count,gpu_memory_gib,price_hourly_usd,spot_price_hourly_usd';
const PROVIDERS = ['aws', 'gcp', 'azure'];

/** Flags, one bit each, on an instance type. Keep in step with src/catalog-data.ts. */
const FLAG_SHARED_CORE = 1;
const FLAG_BURSTABLE = 2;
const FLAG_GPU_MODEL_FROM_NAME = 4;

/** Suspect rule parameters (Azure only). Keep the README and SUSPECT_RULE in step. */
const SUSPECT_THRESHOLD = 1.5;
const SUSPECT_LOW_THRESHOLD = 0.4;
const SUSPECT_MIN_GROUP = 5;
const SUSPECT_RULE = [
  'Azure only; rows with a GPU, without specs or without a price are never judged.',
  'family = the size name without Standard_/Basic_, its size number, a constrained-core "-N" and "_Promo"',
  '(Standard_D2as_v5 -> Das_v5, Standard_E32-8as_v5 -> Eas_v5).',
  "per-vCPU price = price / vCPUs; a constrained-core size uses its parent size's vCPUs, since Azure bills it as the parent.",
  "region level = median over sizes of (price in the region / that size's median price over all regions).",
  `A row is suspect when (per-vCPU price / region level) is above ${SUSPECT_THRESHOLD}x the median of the same`,
  `over every row of its family in every region (families with at least ${SUSPECT_MIN_GROUP} such rows),`,
  `or below ${SUSPECT_LOW_THRESHOLD}x it (B-series excepted: their small sizes are not priced per vCPU).`,
  'Why: some Azure rows carry the Windows price (SOURCE.md gap 2); the Windows licence adds a per-vCPU charge,',
  'which puts those rows 1.7-2x above their family. A few rows are 10x too cheap (F*ams_v6 in newzealandnorth),',
  'which would win every "cheapest" query. Suspect rows stay in results, flagged, with their ratio.',
].join(' ');

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
    out: join(PACKAGE, 'catalog/catalog.json.gz'),
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

function parseNumber(text, where) {
  if (text === '') return null;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${where}: not a non-negative number: ${text}`);
  return value;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Reads the size name's GPU model where Azure's name carries it, e.g. Standard_NC24ads_A100_v4. */
const AZURE_GPU_NAMES = ['A100', 'H100', 'H200', 'A10', 'T4', 'MI300X'];
function azureGpuModelFromName(name) {
  const tokens = name.split('_');
  return AZURE_GPU_NAMES.find((model) => tokens.includes(model)) ?? null;
}

function flagsFor(provider, name) {
  let flags = 0;
  if (provider === 'gcp' && /^(e2-micro|e2-small|e2-medium|f1-micro|g1-small)$/.test(name))
    flags |= FLAG_SHARED_CORE | FLAG_BURSTABLE;
  if (provider === 'aws' && /^(t1|t2|t3|t3a|t4g)\./.test(name)) flags |= FLAG_BURSTABLE;
  if (provider === 'azure' && /^Standard_B\d/.test(name)) flags |= FLAG_BURSTABLE;
  return flags;
}

function readProvider(provider, file) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines[0] !== HEADER) throw new Error(`${file}: unexpected header: ${lines[0]}`);
  const regions = [];
  const regionIndex = new Map();
  const gpuModels = [];
  const gpuIndex = new Map();
  const types = {
    name: [],
    vcpus: [],
    memoryGib: [],
    gpuModel: [],
    gpuCount: [],
    gpuMemoryGib: [],
    flags: [],
    rows: [],
  };
  const rows = { region: [], price: [], spot: [] };
  const seenTypes = new Set();
  const seenPairs = new Set();
  let current = null;
  for (let index = 1; index < lines.length; index++) {
    const where = `${file}:${index + 1}`;
    const cells = lines[index].split(',');
    if (cells.length !== 11) throw new Error(`${where}: expected 11 columns, got ${cells.length}`);
    const [rowProvider, name, region, , vcpus, memory, gpuModelText, gpuCount, gpuMemory, price, spot] =
      cells;
    if (rowProvider !== provider) throw new Error(`${where}: provider ${rowProvider} in ${provider}.csv`);
    if (!name || !region) throw new Error(`${where}: empty instance_type or region`);
    if (seenPairs.has(`${name}\u0000${region}`)) throw new Error(`${where}: duplicate ${name} ${region}`);
    seenPairs.add(`${name}\u0000${region}`);
    const spec = [vcpus, memory, gpuModelText, gpuCount, gpuMemory].join(',');
    if (current?.name !== name) {
      // Rows are stored in file order, grouped by type; the run lengths give each row its type.
      if (seenTypes.has(name)) throw new Error(`${where}: rows of ${name} are not contiguous`);
      seenTypes.add(name);
      let model = gpuModelText || null;
      let flags = flagsFor(provider, name);
      if (!model && provider === 'azure' && gpuCount) {
        model = azureGpuModelFromName(name);
        if (model) flags |= FLAG_GPU_MODEL_FROM_NAME;
      }
      let modelIndex = -1;
      if (model) {
        if (!gpuIndex.has(model)) {
          gpuIndex.set(model, gpuModels.length);
          gpuModels.push(model);
        }
        modelIndex = gpuIndex.get(model);
      }
      types.name.push(name);
      types.vcpus.push(parseNumber(vcpus, where));
      types.memoryGib.push(parseNumber(memory, where));
      types.gpuModel.push(modelIndex);
      types.gpuCount.push(gpuCount ? parseNumber(gpuCount, where) : 0);
      types.gpuMemoryGib.push(parseNumber(gpuMemory, where));
      types.flags.push(flags);
      types.rows.push(0);
      current = { name, spec };
    } else if (current.spec !== spec) throw new Error(`${where}: specs of ${name} differ between regions`);
    types.rows[types.rows.length - 1]++;
    if (!regionIndex.has(region)) {
      regionIndex.set(region, regions.length);
      regions.push(region);
    }
    rows.region.push(regionIndex.get(region));
    rows.price.push(parseNumber(price, where));
    rows.spot.push(parseNumber(spot, where));
  }
  return { text, regions, gpuModels, types, rows };
}

/** Marks Azure rows whose price looks like a Windows price; see SUSPECT_RULE. */
function findSuspects(data) {
  const { types, rows } = data;
  const rowType = [];
  types.rows.forEach((count, type) => {
    for (let i = 0; i < count; i++) rowType.push(type);
  });
  const typeIndex = new Map(types.name.map((name, index) => [name, index]));
  // Region level: how expensive each region is, judged over every priced size.
  const pricesBySize = new Map();
  rowType.forEach((type, row) => {
    if (rows.price[row] === null) return;
    if (!pricesBySize.has(type)) pricesBySize.set(type, []);
    pricesBySize.get(type).push(rows.price[row]);
  });
  const sizeMedian = new Map([...pricesBySize].map(([type, prices]) => [type, median(prices)]));
  const relativeByRegion = new Map();
  rowType.forEach((type, row) => {
    if (rows.price[row] === null) return;
    const region = rows.region[row];
    if (!relativeByRegion.has(region)) relativeByRegion.set(region, []);
    relativeByRegion.get(region).push(rows.price[row] / sizeMedian.get(type));
  });
  const regionLevel = new Map([...relativeByRegion].map(([region, values]) => [region, median(values)]));
  // Families, and each candidate row's region-adjusted per-vCPU price.
  const families = new Map();
  rowType.forEach((type, row) => {
    const price = rows.price[row];
    if (price === null || types.vcpus[type] === null || types.gpuCount[type] > 0) return;
    const match = /^(?:Standard|Basic)_([A-Z]+)(\d+)(-\d+)?([a-z]*)(_.*)?$/.exec(types.name[type]);
    if (!match) return;
    let vcpus = types.vcpus[type];
    if (match[3]) {
      const parent = typeIndex.get(types.name[type].replace(/-\d+/, ''));
      if (parent === undefined || types.vcpus[parent] === null) return;
      vcpus = types.vcpus[parent];
    }
    if (!vcpus) return;
    const family = `${match[1]}${match[4]}${(match[5] ?? '').replace(/_Promo$/, '')}`;
    if (!families.has(family)) families.set(family, []);
    families.get(family).push({
      row,
      value: price / vcpus / regionLevel.get(rows.region[row]),
      burstable: (types.flags[type] & FLAG_BURSTABLE) !== 0,
    });
  });
  const suspect = { rows: [], ratio: [] };
  for (const members of families.values()) {
    if (members.length < SUSPECT_MIN_GROUP) continue;
    const middle = median(members.map((member) => member.value));
    for (const member of members) {
      const ratio = member.value / middle;
      if (ratio > SUSPECT_THRESHOLD || (ratio < SUSPECT_LOW_THRESHOLD && !member.burstable)) {
        suspect.rows.push(member.row);
        suspect.ratio.push(Number(ratio.toPrecision(3)));
      }
    }
  }
  const order = suspect.rows.map((_row, index) => index).sort((a, b) => suspect.rows[a] - suspect.rows[b]);
  return {
    rows: order.map((index) => suspect.rows[index]),
    ratio: order.map((index) => suspect.ratio[index]),
  };
}

function main() {
  const options = parseArguments(process.argv.slice(2));
  const extraProvenance = options.provenance ? JSON.parse(readFileSync(options.provenance, 'utf8')) : {};
  const storage = JSON.parse(readFileSync(options.storage, 'utf8'));
  const sourceNotes = existsSync(join(options.from, 'SOURCE.md'))
    ? readFileSync(join(options.from, 'SOURCE.md'), 'utf8')
    : '';
  const catalog = {
    format: 'bp-price-catalog',
    formatVersion: 1,
    version: '',
    generator: 'packages/pricing/scripts/build-catalog.mjs',
    suspectRule: SUSPECT_RULE,
    providers: {},
    storage,
  };
  const dates = [];
  for (const provider of PROVIDERS) {
    const file = join(options.from, `${provider}.csv`);
    const data = readProvider(provider, file);
    const sha256 = createHash('sha256').update(data.text).digest('hex');
    const known = KNOWN_PROVENANCE[provider];
    const provenance = extraProvenance[provider] ?? (known.sha256 === sha256 ? known : null);
    if (!provenance)
      throw new Error(
        `${file}: SHA-256 ${sha256} is not the one SOURCE.md documents; pass --provenance with its sources and date`,
      );
    const listed = sourceNotes.includes(`${sha256}  ${provider}.csv`);
    dates.push(provenance.dataDate);
    catalog.providers[provider] = {
      dataDate: provenance.dataDate,
      source: {
        file: `${provider}.csv`,
        sha256,
        bytes: Buffer.byteLength(data.text),
        rows: data.rows.region.length,
        listedInSourceNotes: listed,
        origins: provenance.origins,
      },
      notes: provenance.notes ?? [],
      regions: data.regions,
      gpuModels: data.gpuModels,
      types: data.types,
      rows: data.rows,
      suspect: provider === 'azure' ? findSuspects(data) : { rows: [], ratio: [] },
    };
  }
  catalog.version = options.version ?? dates.sort().at(-1);
  if (!/^\d{4}-\d{2}-\d{2}(\.\d+)?$/.test(catalog.version))
    throw new Error(`--version must look like 2026-07-30 or 2026-07-30.2, not ${catalog.version}`);
  const json = JSON.stringify(catalog);
  const gzipped = gzipSync(json, { level: 9 });
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, gzipped);
  const counts = PROVIDERS.map((provider) => {
    const entry = catalog.providers[provider];
    return `${provider} ${entry.source.rows} rows, ${entry.types.name.length} types, ${entry.suspect.rows.length} suspect`;
  });
  console.log(
    `wrote ${options.out}: version ${catalog.version}, ${(gzipped.length / 1024).toFixed(0)} KiB gzipped (${(json.length / 1024).toFixed(0)} KiB JSON); ${counts.join('; ')}`,
  );
}

main();
