#!/usr/bin/env node
// Fused vs unfused per-token log-probs (native/ops/fused_linear_logprobs.h), forward + backward on CPU, and the
// fused loss whose gradient is made in the forward (fusedLinearLogProbsLoss; rowChunk only, 0 = default):
// time per step and the peak memory a step adds, for N=2048 tokens, C=256, V=32000 by default.
//
//   npm run bench:logprobs -- [N C V rowChunk vocabChunk steps]
//
// Compiles scripts/bench/fused_logprobs.cpp with the kernel against the libtorch the addon builds with
// (into build/bench/), then runs each mode in its own process. Prints figures only; asserts nothing.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot, resolveLibtorch } from '../libtorch/resolve.mjs';

const torch = resolveLibtorch({ log: (m) => console.error(m) });
const out = join(packageRoot, 'build', 'bench');
mkdirSync(out, { recursive: true });
const exe = join(out, 'fused_logprobs');
const include = join(torch.root, 'include');
console.error(`compiling ${exe} against libtorch ${torch.version} ...`);
execFileSync(
  process.env.CXX || 'c++',
  [
    '-std=c++20',
    '-O2',
    '-DNDEBUG',
    '-D_GLIBCXX_USE_CXX11_ABI=1',
    '-fopenmp',
    `-I${join(packageRoot, 'native')}`,
    `-I${include}`,
    `-I${join(include, 'torch', 'csrc', 'api', 'include')}`,
    join(packageRoot, 'scripts', 'bench', 'fused_logprobs.cpp'),
    join(packageRoot, 'native', 'ops', 'fused_linear_logprobs.cpp'),
    join(packageRoot, 'native', 'ops', 'logits_tile_cpu.cpp'),
    `-L${torch.libDir}`,
    `-Wl,-rpath,${torch.libDir}`,
    '-ltorch',
    '-ltorch_cpu',
    '-lc10',
    '-o',
    exe,
  ],
  { stdio: 'inherit' },
);

const args = process.argv.slice(2);
for (const mode of ['unfused', 'fused', 'loss']) execFileSync(exe, [mode, ...args], { stdio: 'inherit' });
