// What every benchmark does first: a current dist/ to import alignkit from, and the Python reference
// interpreter (scripts/fixtures/python-env.sh, honouring ALIGNKIT_PYTHON).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function newestMtime(dir, ext) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, ext));
    else if (entry.name.endsWith(ext) && !entry.name.endsWith('.d.ts'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Compiles src/ to dist/ when dist/ is missing or older than any source (tsc is cheap next to a benchmark). */
export function ensureDist() {
  const dist = join(root, 'dist');
  if (existsSync(dist) && newestMtime(dist, '.js') >= newestMtime(join(root, 'src'), '.ts')) return;
  console.error('bench: building dist/ (tsc -p tsconfig.build.json)');
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}

export function referencePython() {
  return execFileSync('bash', [join(root, 'scripts/fixtures/python-env.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** A TCP port free on the loopback address now (the OS picks it), for a data-parallel benchmark's rendezvous. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}
