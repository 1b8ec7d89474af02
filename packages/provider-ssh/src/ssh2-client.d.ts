// ssh2's Client module on its own (its default export). The package's index also loads its SSH server, key
// generation and HTTP(S) agents (node:https with TLS): about 8 ms of every connection's start, for nothing bp uses.
declare module 'ssh2/lib/client.js' {
  import type { Client } from 'ssh2';

  const ClientClass: typeof Client;
  export default ClientClass;
}
