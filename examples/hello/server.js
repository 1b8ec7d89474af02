// A tiny HTTP service for bp's README and tests: no dependencies.
// PORT and HOST come from the environment (bp sets PORT); GREETING is a plain setting.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const greeting = process.env.GREETING ?? 'hello';
// Test switches: a service that never becomes healthy, or one that dies at once.
const failHealth = process.env.HELLO_FAIL_HEALTH === '1';
if (process.env.HELLO_EXIT_AT_ONCE === '1') {
  console.error('hello: exiting at once as asked (HELLO_EXIT_AT_ONCE=1)');
  process.exit(3);
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  console.log(`${request.method} ${url.pathname}`);
  if (url.pathname === '/health') {
    response.writeHead(failHealth ? 503 : 200, { 'content-type': 'text/plain' });
    response.end(failHealth ? 'unhealthy\n' : 'ok\n');
    return;
  }
  response.writeHead(200, { 'content-type': 'text/plain' });
  response.end(`${greeting} from ${process.env.BP_DEPLOYMENT_ID ?? 'hello'}\n`);
});

server.listen(port, host, () => {
  console.log(`hello listening on http://${host}:${port}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    console.log(`hello: ${signal}, shutting down`);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
