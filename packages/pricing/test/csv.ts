// An independent reading of the source CSVs, so tests never take their expectations from the
// package's own loader. The files have no quoting (checked below), so a split is exact.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CSV_DIR =
  process.env.BP_CATALOG_CSV_DIR ?? fileURLToPath(new URL('../../../../shared/catalog/', import.meta.url));
export const HAVE_CSVS = ['aws', 'gcp', 'azure'].every((provider) =>
  existsSync(`${CSV_DIR}/${provider}.csv`),
);

export interface CsvRow {
  provider: string;
  instanceType: string;
  region: string;
  /** 1-based line in the file. */
  line: number;
  vcpus: number | null;
  memoryGib: number | null;
  gpuModel: string;
  gpuCount: number | null;
  gpuMemoryGib: number | null;
  price: number | null;
  spot: number | null;
}

const number = (text: string) => (text === '' ? null : Number.parseFloat(text));
const cache = new Map<string, CsvRow[]>();

export function readCsv(provider: string): CsvRow[] {
  const cached = cache.get(provider);
  if (cached) return cached;
  const text = readFileSync(`${CSV_DIR}/${provider}.csv`, 'utf8');
  if (text.includes('"')) throw new Error(`${provider}.csv has quoted fields; this reader cannot parse them`);
  const lines = text.split('\n');
  const rows: CsvRow[] = [];
  for (let index = 1; index < lines.length; index++) {
    if (!lines[index]) continue;
    const cells = lines[index]!.split(',');
    rows.push({
      provider: cells[0]!,
      instanceType: cells[1]!,
      region: cells[2]!,
      line: index + 1,
      vcpus: number(cells[4]!),
      memoryGib: number(cells[5]!),
      gpuModel: cells[6]!,
      gpuCount: number(cells[7]!),
      gpuMemoryGib: number(cells[8]!),
      price: number(cells[9]!),
      spot: number(cells[10]!),
    });
  }
  cache.set(provider, rows);
  return rows;
}

/** The CSV row at a 1-based line. */
export function csvLine(file: string, line: number): CsvRow {
  const rows = readCsv(file.replace(/\.csv$/, ''));
  const row = rows[line - 2];
  if (!row || row.line !== line) throw new Error(`${file} has no data line ${line}`);
  return row;
}

/** A small seeded generator (mulberry32) so a failing sample can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
