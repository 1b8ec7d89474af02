import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';
import { caught, expectValidationError } from './test-helpers.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90 * SECOND],
    ['10m', 10 * MINUTE],
    ['2h', 2 * HOUR],
    ['1d', DAY],
    ['1h30m', HOUR + 30 * MINUTE],
    ['1d2h3m4s5ms', DAY + 2 * HOUR + 3 * MINUTE + 4 * SECOND + 5],
    ['1m500ms', MINUTE + 500],
    ['1.5h', 90 * MINUTE],
    [' 24h ', 24 * HOUR],
    ['365d', 365 * DAY],
  ])('reads %j as %i ms', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  const form = 'expected a duration like 90s, 10m, 2h, 1d or 1h30m (units d, h, m, s, ms)';
  it.each([
    ['-1h', `${form}, got "-1h"`],
    ['forever', `${form}, got "forever"`],
    ['', `${form}, got ""`],
    ['1x', `${form}, got "1x"`],
    ['10', `${form}, got "10"`],
    ['h', `${form}, got "h"`],
    ['30m1h', `${form}, got "30m1h"`],
    ['1h 30m', `${form}, got "1h 30m"`],
    ['1H', `${form}, got "1H"`],
    ['0s', 'must be longer than 0, got "0s"'],
    ['0h0m', 'must be longer than 0, got "0h0m"'],
    ['366d', 'must be at most 365d, got "366d"'],
    ['365d1ms', 'must be at most 365d, got "365d1ms"'],
  ])('refuses %j', (text, reason) => {
    expectValidationError(
      caught(() => parseDuration(text, '--ttl')),
      { path: '--ttl', reason },
    );
  });

  it('names the flag it was given, "ttl" by default', () => {
    expectValidationError(
      caught(() => parseDuration('soon')),
      { path: 'ttl', reason: `${form}, got "soon"` },
    );
    expectValidationError(
      caught(() => parseDuration(24 as unknown as string, 'defaults.ttl')),
      { path: 'defaults.ttl', reason: `${form}, got 24` },
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [90 * MINUTE, '1h30m'],
    [45 * SECOND, '45s'],
    [DAY + 2 * HOUR, '1d2h'],
    [250, '250ms'],
    [MINUTE + 500, '1m500ms'],
    [0, '0s'],
    [-5 * MINUTE, '-5m'],
    [1499.6, '1s500ms'],
  ])('writes %i ms as %j', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it('round-trips through parseDuration', () => {
    for (const text of ['1d', '1h30m', '45s', '2h5s', '500ms'])
      expect(formatDuration(parseDuration(text))).toBe(text);
  });
});
