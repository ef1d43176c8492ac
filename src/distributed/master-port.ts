// Node 0's check before it starts workers: rank 0 will host the rendezvous store on MASTER_ADDR:MASTER_PORT, so the
// port must be free there. Without this check a busy port shows up as N workers timing out in their rendezvous.
import net from 'node:net';
import { AlignkitError } from '../errors.js';

/** Resolves when `port` can be listened on at `host` (it listens, then closes); else a clear AlignkitError. */
export function checkMasterPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => reject(portError(err, host, port)));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

function portError(err: NodeJS.ErrnoException, host: string, port: number): AlignkitError {
  switch (err.code) {
    case 'EADDRINUSE':
      return new AlignkitError(
        'ERR_PORT_IN_USE',
        `master port ${port} is already in use on ${host} (another job, or workers of an earlier one, hold it); ` +
          'pick a free one with --master_port',
        { cause: err },
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new AlignkitError(
        'ERR_INVALID_ARG',
        `master_addr ${host} is not an address of this machine, and node_rank 0 hosts the rendezvous store: ` +
          `pass one of its addresses with --master_addr (${err.code})`,
        { cause: err },
      );
    default:
      return new AlignkitError('ERR_INVALID_ARG', `cannot listen on master_addr ${host} port ${port}: ${err.message}`, {
        cause: err,
      });
  }
}
