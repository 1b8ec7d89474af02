import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    include: ['src/**/*.test.ts'],
    // Starts two SSH hosts (network namespaces with sshd and dockerd): needs root, like the servers it runs.
    globalSetup: ['src/ssh-hosts.global-setup.ts'],
    // The files mostly wait on the hosts, not on a CPU.
    maxWorkers: 4,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
