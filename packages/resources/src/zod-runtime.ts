import { config } from 'zod';

// bp validates each document once per process: interpreting a schema is cheaper then than compiling
// it to a function first (zod's default, which pays off over many parses).
config({ jitless: true });

// The part of zod that bp's schemas use. tsup bundles it, tree-shaken, into dist/zod-runtime.cjs:
// the full `zod` module also loads every locale (~17 ms) and costs ~37 ms in all on a cold start,
// this file about a quarter of that. Its schemas are ordinary zod schemas (zod 4 recognises its own
// kinds across copies), so they compose with an application's own zod.
export {
  array,
  boolean,
  discriminatedUnion,
  enum,
  int,
  literal,
  looseObject,
  number,
  object,
  record,
  strictObject,
  string,
  union,
} from 'zod';
