/**
 * GPU model matching. A model name is read as tokens split on `-`, case-insensitive:
 * the chip (`A100`), an optional memory size (`80GB`) and other variant words (`MEGA`).
 *
 * - `A100` asks for the chip: it matches `A100` and `A100-80GB` (and AWS's A100 rows with
 *   80 GiB per GPU), never `H100` or `A10`.
 * - `A100-80GB` also asks for the memory: it matches `A100-80GB`, and an `A100` row only when
 *   the row says its GPU has 80 GiB (AWS p4de); GCP's `A100` rows (40 GB) do not match.
 * - Other words must all be present: `H100-80GB-MEGA` matches only `H100-80GB-MEGA`.
 */
export interface GpuModelQuery {
  chip: string;
  memoryGib?: number;
  words: string[];
}

export function parseGpuModel(model: string): GpuModelQuery {
  const tokens = model.trim().toUpperCase().split('-').filter(Boolean);
  const [chip = '', ...rest] = tokens;
  const query: GpuModelQuery = { chip, words: [] };
  for (const token of rest) {
    const memory = /^(\d+)GB$/.exec(token);
    if (memory) query.memoryGib = Number(memory[1]);
    else query.words.push(token);
  }
  return query;
}

/** True when a catalog GPU model (with its per-GPU memory, when known) satisfies the query. */
export function gpuModelMatches(
  query: GpuModelQuery,
  rowModel: string,
  rowMemoryGib: number | null,
): boolean {
  const row = parseGpuModel(rowModel);
  if (row.chip !== query.chip) return false;
  if (query.memoryGib !== undefined) {
    const memory = row.memoryGib ?? rowMemoryGib ?? undefined;
    if (memory === undefined || Math.round(memory) !== query.memoryGib) return false;
  }
  return query.words.every((word) => row.words.includes(word));
}
