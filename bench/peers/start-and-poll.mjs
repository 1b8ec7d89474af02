// The "by hand" peer of `bp deploy` to this machine, as a whole process like bp: starts
// `node server.js` in examples/hello (detached, on PORT), polls its /health every 10 ms until it
// answers 200, prints the service's pid and exits, leaving the service running.
// Usage: node bench/peers/start-and-poll.mjs PORT
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

const port = process.argv[2];
const child = spawn(process.execPath, ['server.js'], {
  cwd: fileURLToPath(new URL('../../examples/hello', import.meta.url)),
  env: { ...process.env, PORT: port },
  detached: true,
  stdio: 'ignore',
});
child.unref();

const status = () =>
  new Promise((resolve) => {
    const req = request(`http://127.0.0.1:${port}/health`, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });

for (let attempt = 0; attempt < 1000; attempt++) {
  if ((await status()) === 200) {
    process.stdout.write(`${child.pid}\n`);
    process.exit(0);
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
}
process.exit(1);
