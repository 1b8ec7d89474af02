// The catalog in memory (`CatalogTables`) and in its binary file form, which the shipped and the
// installed catalogs use. The JSON format (catalog-data.ts) stays the format catalogs are
// exchanged and validated in. The binary form holds the same data, but its number columns are
// little-endian typed arrays that load without decompression, JSON parsing or a per-element
// conversion, next to what a query would otherwise compute on every start: each row's type and
// the rows' price orders.
//
// Layout (integers little-endian):
//   offset 0   16 bytes  "bp-price-catalog" in ASCII
//          16  uint32    BINARY_LAYOUT_VERSION
//          20  uint32    H, the header's length in bytes
//          24  H bytes   the header: UTF-8 JSON, a CatalogFileHeaderV1 (the catalog without its
//                        number columns, with `columns` saying where each provider's columns are)
//   then zero bytes up to a multiple of 8, where the data area starts: the sections the header
//   names, each at a multiple of 8 bytes from the data area's start.
//
// This file is also run directly by Node's type stripping (the build script imports it as .ts), so
// it imports only types, and uses only erasable TypeScript syntax.
import type { CatalogDataV1, CatalogProviderV1 } from './catalog-data.js';

/** The first bytes of a binary catalog file. */
const MAGIC = 'bp-price-catalog';
/** The binary layout this package reads and writes (the data model is `formatVersion`). */
export const BINARY_LAYOUT_VERSION = 1;
const PREFIX_BYTES = 24;
const ALIGNMENT = 8;
const FORMAT_VERSION: CatalogDataV1['formatVersion'] = 1;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Instance type names cannot contain it: the header stores a provider's names joined by it. */
const TYPE_NAME_SEPARATOR = '\n';

/** A section of the data area: [byte offset from the data area's start, element count]. */
export type CatalogSection = [offset: number, count: number];

/** Where one provider's number columns are in the data area; the element type is in brackets. */
export interface CatalogColumnsV1 {
  /** Per instance type, as `types.*` of the JSON form (NaN for null). */
  types: {
    /** [float64] */
    vcpus: CatalogSection;
    /** [float64] */
    memoryGib: CatalogSection;
    /** [int32] */
    gpuModel: CatalogSection;
    /** [float64] */
    gpuCount: CatalogSection;
    /** [float64] */
    gpuMemoryGib: CatalogSection;
    /** [uint8] */
    flags: CatalogSection;
    /** [uint32] */
    rows: CatalogSection;
  };
  /** Per row, as `rows.*` of the JSON form (NaN for null), plus what is derived from the rows. */
  rows: {
    /** [uint16] The row's instance type (from `types.rows`). */
    type: CatalogSection;
    /** [uint16] */
    region: CatalogSection;
    /** [float64] */
    price: CatalogSection;
    /** [float64] Null when no row of the provider has a spot price. */
    spot: CatalogSection | null;
    /** [uint32] The rows a query can return, by on-demand price: see {@link priceOrder}. */
    order: CatalogSection;
    /** [uint32] The same rows by spot price where known; null when `spot` is null (then `order`). */
    spotOrder: CatalogSection | null;
  };
}

/** One provider in a binary file's header: the JSON form's fields without the number columns. */
export interface CatalogFileProviderV1 extends Omit<CatalogProviderV1, 'types' | 'rows'> {
  /** `types.name`, joined by {@link TYPE_NAME_SEPARATOR}. */
  typeNames: string;
  columns: CatalogColumnsV1;
}

/** The JSON header of a binary catalog file. */
export interface CatalogFileHeaderV1 extends Omit<CatalogDataV1, 'providers'> {
  providers: Record<string, CatalogFileProviderV1>;
}

/** One provider's instance types: `types` of the JSON form, numbers as typed arrays (NaN for null). */
export interface TypeTables {
  name: string[];
  vcpus: Float64Array;
  memoryGib: Float64Array;
  gpuModel: Int32Array;
  gpuCount: Float64Array;
  gpuMemoryGib: Float64Array;
  flags: Uint8Array;
  rows: Uint32Array;
}

/** One provider's rows: `rows` of the JSON form as typed arrays (NaN for null), with derived columns. */
export interface RowTables {
  /** Each row's instance type. */
  type: Uint16Array;
  region: Uint16Array;
  price: Float64Array;
  spot: Float64Array;
  /** See {@link priceOrder}; computed on first use when the catalog was read from JSON. */
  order?: Uint32Array;
  /** See {@link priceOrder} with `useSpot`; computed on first use when the catalog was read from JSON. */
  spotOrder?: Uint32Array;
}

/** One provider of a catalog in memory. */
export interface ProviderTables extends Omit<CatalogProviderV1, 'types' | 'rows'> {
  types: TypeTables;
  rows: RowTables;
}

/** A catalog in memory: {@link CatalogDataV1} with its number columns as typed arrays. */
export interface CatalogTables extends Omit<CatalogDataV1, 'providers'> {
  providers: Record<string, ProviderTables>;
}

/** A binary catalog file that cannot be read: truncated, damaged, or of another layout. */
export class CatalogFileError extends Error {
  override name = 'CatalogFileError';
}

/** True when `bytes` start like a binary catalog file (rather than JSON or gzip). */
export function isBinaryCatalog(bytes: Uint8Array): boolean {
  if (bytes.length < MAGIC.length) return false;
  for (let index = 0; index < MAGIC.length; index++)
    if (bytes[index] !== MAGIC.charCodeAt(index)) return false;
  return true;
}

const orNaN = (value: number | null) => value ?? Number.NaN;
const orNull = (value: number) => (Number.isNaN(value) ? null : value);

/** The JSON form's provider fields that both forms share, in the JSON form's key order. */
function sharedFields(
  provider: Omit<CatalogProviderV1, 'types' | 'rows'>,
): Omit<CatalogProviderV1, 'types' | 'rows' | 'suspect'> {
  return {
    dataDate: provider.dataDate,
    source: provider.source,
    notes: provider.notes,
    regions: provider.regions,
    gpuModels: provider.gpuModels,
  };
}

/** The catalog's top-level fields, in the JSON form's key order, with other `providers`. */
function withProviders<P>(
  catalog: Omit<CatalogDataV1, 'providers'>,
  providers: Record<string, P>,
): Omit<CatalogDataV1, 'providers'> & { providers: Record<string, P> } {
  return {
    format: catalog.format,
    formatVersion: catalog.formatVersion,
    version: catalog.version,
    generator: catalog.generator,
    suspectRule: catalog.suspectRule,
    providers,
    storage: catalog.storage,
  };
}

const mapValues = <A, B>(record: Record<string, A>, map: (value: A) => B): Record<string, B> =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));

/** The catalog with its number columns as typed arrays (the price orders are left to first use). */
export function tablesFromData(data: CatalogDataV1): CatalogTables {
  return withProviders(
    data,
    mapValues(data.providers, ({ types, rows, ...provider }) => {
      const rowType = new Uint16Array(rows.region.length);
      let row = 0;
      types.rows.forEach((count, type) => {
        rowType.fill(type, row, row + count);
        row += count;
      });
      return {
        ...sharedFields(provider),
        types: {
          name: types.name,
          vcpus: Float64Array.from(types.vcpus, orNaN),
          memoryGib: Float64Array.from(types.memoryGib, orNaN),
          gpuModel: Int32Array.from(types.gpuModel),
          gpuCount: Float64Array.from(types.gpuCount),
          gpuMemoryGib: Float64Array.from(types.gpuMemoryGib, orNaN),
          flags: Uint8Array.from(types.flags),
          rows: Uint32Array.from(types.rows),
        },
        rows: {
          type: rowType,
          region: Uint16Array.from(rows.region),
          price: Float64Array.from(rows.price, orNaN),
          spot: Float64Array.from(rows.spot, orNaN),
        },
        suspect: provider.suspect,
      };
    }),
  );
}

/** The JSON form of a catalog in memory: what {@link tablesFromData} was given. */
export function dataFromTables(tables: CatalogTables): CatalogDataV1 {
  return withProviders(
    tables,
    mapValues(tables.providers, ({ types, rows, ...provider }) => ({
      ...sharedFields(provider),
      types: {
        name: types.name,
        vcpus: Array.from(types.vcpus, orNull),
        memoryGib: Array.from(types.memoryGib, orNull),
        gpuModel: Array.from(types.gpuModel),
        gpuCount: Array.from(types.gpuCount),
        gpuMemoryGib: Array.from(types.gpuMemoryGib, orNull),
        flags: Array.from(types.flags),
        rows: Array.from(types.rows),
      },
      rows: {
        region: Array.from(rows.region),
        price: Array.from(rows.price, orNull),
        spot: Array.from(rows.spot, orNull),
      },
      suspect: provider.suspect,
    })),
  );
}

/**
 * `rows` (ascending) ordered by price, ties in row order. The price is the on-demand one, or with
 * `useSpot` the spot price where known. The prices are sorted natively (a typed-array sort makes
 * no comparator calls); each row then takes the next free slot at its price's first position,
 * found by binary search. Several times faster than a comparator sort.
 */
export function sortRowsByPrice(
  provider: ProviderTables,
  rows: readonly number[],
  useSpot: boolean,
): Uint32Array {
  const { price, spot } = provider.rows;
  const count = rows.length;
  const keys = new Float64Array(count);
  for (let index = 0; index < count; index++) {
    const row = rows[index]!;
    keys[index] = useSpot && !Number.isNaN(spot[row]!) ? spot[row]! : price[row]!;
  }
  const sorted = keys.slice().sort();
  const taken = new Uint32Array(count);
  const order = new Uint32Array(count);
  for (let index = 0; index < count; index++) {
    const key = keys[index]!;
    let low = 0;
    let high = count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (sorted[middle]! < key) low = middle + 1;
      else high = middle;
    }
    order[low + taken[low]!++] = rows[index]!;
  }
  return order;
}

/**
 * The rows a query can return (priced, of a type with vCPU and memory figures) by on-demand
 * price, or with `useSpot` by the spot price where known and the on-demand price elsewhere. Ties
 * keep the row order.
 */
export function priceOrder(provider: ProviderTables, useSpot: boolean): Uint32Array {
  const { vcpus, memoryGib } = provider.types;
  const { type, price } = provider.rows;
  const rows: number[] = [];
  for (let row = 0; row < type.length; row++)
    if (
      !Number.isNaN(price[row]!) &&
      !Number.isNaN(vcpus[type[row]!]!) &&
      !Number.isNaN(memoryGib[type[row]!]!)
    )
      rows.push(row);
  return sortRowsByPrice(provider, rows, useSpot);
}

type NumberArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

/** How one element type is stored: its size, a view of it in a buffer, and DataView access. */
interface ColumnKind<T extends NumberArray> {
  bytes: number;
  view(buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  create(length: number): T;
  get(view: DataView, at: number): number;
  set(view: DataView, at: number, value: number): void;
}

const UINT8: ColumnKind<Uint8Array> = {
  bytes: 1,
  view: (buffer, offset, length) => new Uint8Array(buffer, offset, length),
  create: (length) => new Uint8Array(length),
  get: (view, at) => view.getUint8(at),
  set: (view, at, value) => view.setUint8(at, value),
};
const UINT16: ColumnKind<Uint16Array> = {
  bytes: 2,
  view: (buffer, offset, length) => new Uint16Array(buffer, offset, length),
  create: (length) => new Uint16Array(length),
  get: (view, at) => view.getUint16(at, true),
  set: (view, at, value) => view.setUint16(at, value, true),
};
const UINT32: ColumnKind<Uint32Array> = {
  bytes: 4,
  view: (buffer, offset, length) => new Uint32Array(buffer, offset, length),
  create: (length) => new Uint32Array(length),
  get: (view, at) => view.getUint32(at, true),
  set: (view, at, value) => view.setUint32(at, value, true),
};
const INT32: ColumnKind<Int32Array> = {
  bytes: 4,
  view: (buffer, offset, length) => new Int32Array(buffer, offset, length),
  create: (length) => new Int32Array(length),
  get: (view, at) => view.getInt32(at, true),
  set: (view, at, value) => view.setInt32(at, value, true),
};
const FLOAT64: ColumnKind<Float64Array> = {
  bytes: 8,
  view: (buffer, offset, length) => new Float64Array(buffer, offset, length),
  create: (length) => new Float64Array(length),
  get: (view, at) => view.getFloat64(at, true),
  set: (view, at, value) => view.setFloat64(at, value, true),
};

const align = (offset: number) => Math.ceil(offset / ALIGNMENT) * ALIGNMENT;

/**
 * The binary file of a catalog (see the layout above), with its price orders. Deterministic: the
 * same data gives the same bytes. `data` must be valid (see `validateCatalog`); an instance type
 * name with a line break, or more than 65,535 types in a provider, is refused with an Error.
 */
export function encodeCatalog(data: CatalogDataV1): Uint8Array {
  const tables = tablesFromData(data);
  const sections: { offset: number; kind: ColumnKind<NumberArray>; values: NumberArray }[] = [];
  let size = 0;
  const section = <T extends NumberArray>(kind: ColumnKind<T>, values: T): CatalogSection => {
    sections.push({ offset: size, kind: kind as ColumnKind<NumberArray>, values });
    const where: CatalogSection = [size, values.length];
    size = align(size + values.length * kind.bytes);
    return where;
  };
  const header: CatalogFileHeaderV1 = withProviders(
    tables,
    mapValues(tables.providers, (provider) => {
      const { types, rows } = provider;
      if (types.name.length > 0xffff) throw new Error('a provider has more than 65,535 instance types');
      const badName = types.name.find((name) => name.includes(TYPE_NAME_SEPARATOR));
      if (badName !== undefined) throw new Error(`instance type ${JSON.stringify(badName)} has a line break`);
      const spot = rows.spot.some((value) => !Number.isNaN(value));
      return {
        ...sharedFields(provider),
        typeNames: types.name.join(TYPE_NAME_SEPARATOR),
        suspect: provider.suspect,
        columns: {
          types: {
            vcpus: section(FLOAT64, types.vcpus),
            memoryGib: section(FLOAT64, types.memoryGib),
            gpuModel: section(INT32, types.gpuModel),
            gpuCount: section(FLOAT64, types.gpuCount),
            gpuMemoryGib: section(FLOAT64, types.gpuMemoryGib),
            flags: section(UINT8, types.flags),
            rows: section(UINT32, types.rows),
          },
          rows: {
            type: section(UINT16, rows.type),
            region: section(UINT16, rows.region),
            price: section(FLOAT64, rows.price),
            spot: spot ? section(FLOAT64, rows.spot) : null,
            order: section(UINT32, priceOrder(provider, false)),
            spotOrder: spot ? section(UINT32, priceOrder(provider, true)) : null,
          },
        },
      };
    }),
  );
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align(PREFIX_BYTES + json.length);
  const bytes = new Uint8Array(dataStart + size);
  const view = new DataView(bytes.buffer);
  for (let index = 0; index < MAGIC.length; index++) bytes[index] = MAGIC.charCodeAt(index);
  view.setUint32(16, BINARY_LAYOUT_VERSION, true);
  view.setUint32(20, json.length, true);
  bytes.set(json, PREFIX_BYTES);
  for (const { offset, kind, values } of sections)
    for (let index = 0; index < values.length; index++)
      kind.set(view, dataStart + offset + index * kind.bytes, values[index]!);
  return bytes;
}

/**
 * Reads a binary catalog file. Its layout is checked (a truncated or damaged file throws a
 * {@link CatalogFileError}), its values are not: it is trusted as written by {@link encodeCatalog}
 * from a validated catalog. Checking values would mean a pass over every row on every load.
 * The typed arrays are views of `bytes` on a little-endian host, copies elsewhere
 * (`littleEndianHost` is a parameter for tests).
 */
export function decodeCatalog(bytes: Uint8Array, littleEndianHost = LITTLE_ENDIAN_HOST): CatalogTables {
  if (!isBinaryCatalog(bytes) || bytes.length < PREFIX_BYTES)
    throw new CatalogFileError('not a binary bp price catalog');
  // Views need their offsets aligned to the element size within the underlying buffer: copy if not.
  const file = bytes.byteOffset % ALIGNMENT === 0 ? bytes : new Uint8Array(bytes);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const layout = view.getUint32(16, true);
  if (layout !== BINARY_LAYOUT_VERSION)
    throw new CatalogFileError(
      `binary layout ${layout} is not supported; this @bp/pricing reads ${BINARY_LAYOUT_VERSION}`,
    );
  const headerBytes = view.getUint32(20, true);
  const dataStart = align(PREFIX_BYTES + headerBytes);
  if (dataStart > file.length) throw new CatalogFileError('the file is truncated');
  let header: CatalogFileHeaderV1;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes)));
  } catch (error) {
    throw new CatalogFileError(`the header is not valid JSON: ${(error as Error).message}`);
  }
  if (header?.format !== MAGIC || header.formatVersion !== FORMAT_VERSION)
    throw new CatalogFileError(`the header is not format ${MAGIC} version ${FORMAT_VERSION}`);

  /** The column a section holds, after checking that it lies in the file and has `count` entries. */
  const column = <T extends NumberArray>(
    kind: ColumnKind<T>,
    [offset, length]: CatalogSection,
    count: number,
    name: string,
  ): T => {
    if (length !== count) throw new CatalogFileError(`${name} has ${length} entries, expected ${count}`);
    const start = dataStart + offset;
    if (offset % ALIGNMENT !== 0 || start + length * kind.bytes > file.length)
      throw new CatalogFileError(`${name} lies outside the file (truncated?)`);
    if (littleEndianHost) return kind.view(file.buffer, file.byteOffset + start, length);
    const copy = kind.create(length);
    for (let index = 0; index < length; index++) copy[index] = kind.get(view, start + index * kind.bytes);
    return copy;
  };

  const providers: Record<string, ProviderTables> = {};
  try {
    for (const [id, provider] of Object.entries(header.providers)) {
      const { typeNames, columns, ...fields } = provider;
      const name = typeNames === '' ? [] : typeNames.split(TYPE_NAME_SEPARATOR);
      const typeCount = name.length;
      const rowCount = provider.source.rows;
      const at = (key: string) => `providers.${id}.columns.${key}`;
      const types = columns.types;
      const rows = columns.rows;
      if (rows.order[1] > rowCount)
        throw new CatalogFileError(
          `${at('rows.order')} has ${rows.order[1]} entries, there are ${rowCount} rows`,
        );
      const order = column(UINT32, rows.order, rows.order[1], at('rows.order'));
      providers[id] = {
        ...sharedFields(fields),
        types: {
          name,
          vcpus: column(FLOAT64, types.vcpus, typeCount, at('types.vcpus')),
          memoryGib: column(FLOAT64, types.memoryGib, typeCount, at('types.memoryGib')),
          gpuModel: column(INT32, types.gpuModel, typeCount, at('types.gpuModel')),
          gpuCount: column(FLOAT64, types.gpuCount, typeCount, at('types.gpuCount')),
          gpuMemoryGib: column(FLOAT64, types.gpuMemoryGib, typeCount, at('types.gpuMemoryGib')),
          flags: column(UINT8, types.flags, typeCount, at('types.flags')),
          rows: column(UINT32, types.rows, typeCount, at('types.rows')),
        },
        rows: {
          type: column(UINT16, rows.type, rowCount, at('rows.type')),
          region: column(UINT16, rows.region, rowCount, at('rows.region')),
          price: column(FLOAT64, rows.price, rowCount, at('rows.price')),
          spot: rows.spot
            ? column(FLOAT64, rows.spot, rowCount, at('rows.spot'))
            : new Float64Array(rowCount).fill(Number.NaN),
          order,
          spotOrder: rows.spotOrder
            ? column(UINT32, rows.spotOrder, order.length, at('rows.spotOrder'))
            : order,
        },
        suspect: fields.suspect,
      };
    }
  } catch (error) {
    if (error instanceof CatalogFileError) throw error;
    throw new CatalogFileError(`the header is damaged: ${(error as Error).message}`);
  }
  return withProviders(header, providers);
}
