#!/usr/bin/env node
// Builds the addon from source with cmake-js against the libtorch resolve.mjs finds, and records that
// libtorch beside the addon (build/Release/libtorch.json) for `alignkit info`.
// Extra arguments (as prebuildify passes to a node-gyp stand-in) are ignored.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { packageRoot, resolveLibtorch } from './libtorch/resolve.mjs';

export function buildNative({ log = console.log } = {}) {
  const torch = resolveLibtorch({ log });
  log(`alignkit: building against libtorch ${torch.version} from ${torch.source} (${torch.root})` +
    (torch.cuda ? ', with CUDA sources' : ', CPU only'));
  const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  // `compile` reuses an existing configuration; a different libtorch needs a fresh one.
  const recorded = join(packageRoot, 'build', 'Release', 'libtorch.json');
  const sameTorch = existsSync(recorded) && JSON.parse(readFileSync(recorded, 'utf8')).root === torch.root;
  try {
    execFileSync(process.execPath, [cmakeJs, sameTorch ? 'compile' : 'rebuild', '--out', 'build', '--parallel', String(cpus().length),
      `--CDALIGNKIT_TORCH_PREFIX=${torch.cmakePrefix}`], { cwd: packageRoot, stdio: 'inherit' });
  } catch {
    throw new Error('alignkit: the native build failed (see the compiler output above). It needs cmake >= 3.18, ' +
      'a C++20 compiler (g++ >= 10 or clang >= 12) and ninja or make; CUDA libtorch also needs nvcc and cmake >= 4.');
  }
  writeFileSync(join(packageRoot, 'build', 'Release', 'libtorch.json'), JSON.stringify(torch, null, 2) + '\n');
  return torch;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  try {
    buildNative();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
