// Runs bp's benchmarks. Each prints bp's time, its peer's, measured in the same
// run, and the ratio against the target.
// Usage: node bench/run.mjs [NAME...], NAME one of the list below (deploy-docker and deploy-ssh start
// the test servers through @bp/test-infra, so they need root like the tests).
const all = [
  'startup',
  'deploy-local',
  'status-10k',
  'estimate',
  '../packages/pricing/bench/cheapest-fit',
  'deploy-docker',
  'deploy-ssh',
];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
let missed = 0;
for (const name of chosen) {
  const { run } = await import(`./${name}.mjs`);
  for (const result of await run()) if (!result.meets) missed++;
}
console.log(missed ? `${missed} target(s) missed` : 'all targets met');
