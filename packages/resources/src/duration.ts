import { ValidationError } from '@bp/provider';

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
] as const;

const MAX_MS = 365 * 86_400_000;
// Units in descending order, each at most once: 1d, 1h30m, 90s, 500ms, 1.5h.
const DURATION =
  /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/;

/**
 * Parses a duration such as `90s`, `10m`, `2h`, `1d`, `1h30m` or `500ms` into
 * milliseconds. Units go from largest to smallest, each at most once. Zero,
 * negative, unitless and longer than 365 days are refused with a ValidationError
 * whose path is `flag` (e.g. `--ttl`).
 */
export function parseDuration(text: string, flag = 'ttl'): number {
  // Callers may hand over a value straight from TOML or JSON, which can be a number.
  const match = typeof text === 'string' ? DURATION.exec(text.trim()) : null;
  const parts = match?.slice(1) ?? [];
  if (!parts.some((part) => part !== undefined)) {
    throw new ValidationError({
      path: flag,
      reason: `expected a duration like 90s, 10m, 2h, 1d or 1h30m (units d, h, m, s, ms), got ${JSON.stringify(text)}`,
    });
  }
  const total = Math.round(parts.reduce((sum, part, index) => sum + Number(part ?? 0) * UNITS[index]![1], 0));
  if (total <= 0)
    throw new ValidationError({ path: flag, reason: `must be longer than 0, got ${JSON.stringify(text)}` });
  if (total > MAX_MS)
    throw new ValidationError({ path: flag, reason: `must be at most 365d, got ${JSON.stringify(text)}` });
  return total;
}

/** Writes milliseconds compactly, largest unit first: `1h30m`, `45s`, `1d2h`, `250ms`, `0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`cannot format a duration of ${ms} ms`);
  let rest = Math.round(Math.abs(ms));
  let text = '';
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return (ms < 0 && text ? '-' : '') + (text || '0s');
}
