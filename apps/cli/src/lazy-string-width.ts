import { createRequire } from 'node:module';

// yargs and cliui import string-width at start-up, and its module body builds an
// Intl.Segmenter (~10 ms each copy). Only help text needs it: load it on first use.
let stringWidthImplementation: ((text: string) => number) | undefined;

export default function stringWidth(text: string): number {
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  stringWidthImplementation ??= (
    createRequire(import.meta.url)('string-width') as { default: (text: string) => number }
  ).default;
  return stringWidthImplementation(text);
}
