// better-sqlite3's JavaScript, as the tracker loads it: tsup bundles it into dist/better-sqlite3-runtime.cjs,
// one file instead of fifteen (about 5 ms less per process that opens the database). The native addon stays
// in the installed package: openTracker hands it over through the `nativeBinding` option (see there).
export { default } from 'better-sqlite3';
