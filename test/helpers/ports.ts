import net from 'node:net';

/** A loopback port this process listens on until `close` (a port in use, for tests of that error). */
export async function occupiedPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A TCP port free on the loopback address right now (the OS picks it), for a test's rendezvous. */
export async function freePort(): Promise<number> {
  const { port, close } = await occupiedPort();
  await close();
  return port;
}
