import { defineConfig } from 'vitest/config';

// One run across every package, so one JSON report holds the totals.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
  },
});
