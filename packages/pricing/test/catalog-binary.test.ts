import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BINARY_LAYOUT_VERSION,
  CatalogFileError,
  type CatalogTables,
  dataFromTables,
  decodeCatalog,
  encodeCatalog,
  tablesFromData,
} from '../src/catalog-binary.js';
import { shippedCatalogPath, validateCatalog } from '../src/index.js';

const shippedBytes = () => readFileSync(shippedCatalogPath());

function refusal(bytes: Uint8Array): CatalogFileError {
  try {
    decodeCatalog(bytes);
  } catch (error) {
    if (error instanceof CatalogFileError) return error;
    throw error;
  }
  throw new Error('decodeCatalog accepted the bytes');
}

/** The catalog's columns with the price orders left out (JSON-read tables compute them later). */
function withoutOrders(tables: CatalogTables) {
  return Object.fromEntries(
    Object.entries(tables.providers).map(([id, { rows, ...provider }]) => [
      id,
      { ...provider, rows: { type: rows.type, region: rows.region, price: rows.price, spot: rows.spot } },
    ]),
  );
}

describe('the binary catalog form', () => {
  it('round-trips: the same JSON catalog back, the same bytes again', () => {
    const bytes = shippedBytes();
    const tables = decodeCatalog(bytes);
    const data = dataFromTables(tables);
    expect(validateCatalog(data)).toEqual(data);
    expect(Buffer.from(encodeCatalog(data)).equals(bytes)).toBe(true);
    expect(withoutOrders(tablesFromData(data))).toEqual(withoutOrders(tables));
    // Null prices survive as null (NaN inside), not as 0.
    const azure = data.providers.azure!;
    expect(azure.rows.price.filter((price) => price === null)).toHaveLength(68);
    expect(azure.rows.spot.every((spot) => spot === null)).toBe(true);
  });

  it('reads the same on a big-endian host and from an unaligned buffer', () => {
    const bytes = shippedBytes();
    const expected = decodeCatalog(bytes);
    expect(decodeCatalog(bytes, false)).toEqual(expected);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const unaligned = shifted.subarray(3);
    expect(unaligned.byteOffset % 8).not.toBe(0);
    expect(decodeCatalog(unaligned)).toEqual(expected);
  });

  it('refuses foreign, truncated, damaged and newer files', () => {
    const bytes = shippedBytes();
    expect(refusal(new TextEncoder().encode('{"format":"bp-price-catalog"}')).message).toMatch(
      /not a binary bp price catalog/,
    );
    expect(refusal(bytes.subarray(0, 200)).message).toMatch(/truncated/);
    expect(refusal(bytes.subarray(0, bytes.length - 8)).message).toMatch(
      /providers\.azure\.columns\.rows\.order lies outside the file/,
    );
    const newer = Uint8Array.from(bytes);
    new DataView(newer.buffer).setUint32(16, BINARY_LAYOUT_VERSION + 1, true);
    expect(refusal(newer).message).toMatch(/binary layout 2 is not supported/);
    const damaged = Uint8Array.from(bytes);
    damaged[24] = 0x78; // an 'x' for the header's opening brace
    expect(refusal(damaged).message).toMatch(/the header is not valid JSON/);
  });

  it('carries price orders equal to a comparator sort, ties in row order, spot where known', () => {
    const tables = decodeCatalog(shippedBytes());
    for (const [id, provider] of Object.entries(tables.providers)) {
      const { type, price, spot, order, spotOrder } = provider.rows;
      const { vcpus, memoryGib } = provider.types;
      const candidates = Array.from(type.keys()).filter(
        (row) =>
          !Number.isNaN(price[row]!) &&
          !Number.isNaN(vcpus[type[row]!]!) &&
          !Number.isNaN(memoryGib[type[row]!]!),
      );
      const sorted = (key: (row: number) => number) =>
        [...candidates].sort((a, b) => key(a) - key(b) || a - b);
      const onDemand = sorted((row) => price[row]!);
      expect(Array.from(order!), id).toEqual(onDemand);
      const spotKey = (row: number) => (Number.isNaN(spot[row]!) ? price[row]! : spot[row]!);
      expect(Array.from(spotOrder!), id).toEqual(sorted(spotKey));
      // Ties are common, so the row-order rule is exercised.
      expect(onDemand.some((row, index) => index > 0 && price[onDemand[index - 1]!] === price[row])).toBe(
        true,
      );
    }
    // GCP is the provider with spot prices: its two orders differ.
    const gcp = tables.providers.gcp!.rows;
    expect(Array.from(gcp.spotOrder!)).not.toEqual(Array.from(gcp.order!));
  });

  it('needs one-line instance type names, which validation asks for first', () => {
    const data = dataFromTables(decodeCatalog(shippedBytes()));
    data.providers.aws!.types.name[4] = 'm5.large\nm5.xlarge';
    expect(() => encodeCatalog(data)).toThrow(/line break/);
    expect(() => validateCatalog(data)).toThrow(
      expect.objectContaining({ path: 'providers.aws.types.name.4' }),
    );
  });
});
