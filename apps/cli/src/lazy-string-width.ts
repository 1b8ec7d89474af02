import { createRequire } from 'node:module';

// yargs and cliui import string-width at start-up, and its module body builds an
// Intl.Segmenter (~10 ms a copy, ~35 ms on first use). bp's own text is ASCII plus a few
// one-column symbols (×, …, →): count those directly and load string-width for anything else.
const ONE_COLUMN_EACH = /^[\x20-\x7e\u00a0-\u02ff\u2010-\u2027\u2030-\u205e\u2190-\u23ff\u2500-\u257f]*$/u;
let stringWidthImplementation: ((text: string) => number) | undefined;

export default function stringWidth(text: string): number {
  if (ONE_COLUMN_EACH.test(text)) return text.length;
  stringWidthImplementation ??= (
    createRequire(import.meta.url)('string-width') as { default: (text: string) => number }
  ).default;
  return stringWidthImplementation(text);
}
