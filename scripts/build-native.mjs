#!/usr/bin/env node
// Builds the addon from source with cmake-js against the libtorch resolve.mjs finds (or the one passed), and records
// that libtorch beside the addon (build/Release/libtorch.json) for `alignkit info` and the loader's version check.
// In a git checkout it builds in build/ (kept, so rebuilds are incremental); in an installed package it builds in a
// temporary folder and keeps only the addon, so no build intermediates stay in node_modules. The compiler's output
// is shown with --verbose (ALIGNKIT_VERBOSE=1), else kept and printed only when the build fails.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { nvidiaCudaDir, packageRoot, resolveLibtorch } from './libtorch/resolve.mjs';

// H100. torch's CMake config turns TORCH_CUDA_ARCH_LIST into nvcc -gencode flags (it ignores
// CMAKE_CUDA_ARCHITECTURES); unset, it probes for a GPU and, finding none, builds a dozen architectures.
const DEFAULT_CUDA_ARCH_LIST = '9.0';

// torch >= 2.14 needs C++20 CUDA sources, which CMake < 4 cannot compile with nvcc 13. CMAKE reaches cmake-js
// as --cmake-path; without it cmake-js runs the cmake on PATH, the one checked here.
function cmake4Args() {
  const cmake = process.env.CMAKE || 'cmake';
  const version = /cmake version (\S+)/.exec(spawnSync(cmake, ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1];
  if (Number(version?.split('.')[0]) >= 4) return process.env.CMAKE ? ['--cmake-path', cmake] : [];
  throw new Error(
    `alignkit: a CUDA libtorch needs CMake >= 4; ${cmake} is ` +
      `${version ? `CMake ${version}` : 'not runnable'}. Run \`pip install 'cmake>=4'\` (in a venv on PATH), ` +
      'or set CMAKE to the path of a cmake >= 4.',
  );
}

// nvcc from CUDACXX, else the default toolkit, then PATH. Its toolkit root is where nvcc really lives, which nvcc
// reports itself (_HERE_ in its --dryrun plan, on stderr) even when the one found is a wrapper script.
export function findNvcc() {
  for (const nvcc of process.env.CUDACXX ? [process.env.CUDACXX] : ['/usr/local/cuda/bin/nvcc', 'nvcc']) {
    const plan = spawnSync(nvcc, ['--dryrun', '-x', 'cu', '-c', '/dev/null', '-o', '/dev/null'], { encoding: 'utf8' });
    const bin = /^#\$ _HERE_=(.+)$/m.exec(plan.stderr ?? '')?.[1];
    if (bin) return { nvcc: join(bin, 'nvcc'), toolkitRoot: dirname(bin) };
  }
  const tried = process.env.CUDACXX || '/usr/local/cuda/bin/nvcc, nvcc on PATH';
  throw new Error(
    `alignkit: a CUDA libtorch needs nvcc and none ran (tried ${tried}). ` + 'Install the CUDA toolkit or set CUDACXX.',
  );
}

// What cmake-js needs beyond the torch prefix to build CUDA sources: CMake >= 4, nvcc and its toolkit, and
// for a pip torch its nvidia-* wheels (nvrtc, which torch's CMake config looks for in the toolkit; headers
// such as cusparse.h the toolkit may lack; and their lib/, which CMakeLists.txt puts in RUNPATH).
function cudaArgs(torch) {
  const { nvcc, toolkitRoot } = findNvcc();
  const defines = {
    CMAKE_CUDA_COMPILER: nvcc,
    CUDA_TOOLKIT_ROOT_DIR: toolkitRoot,
    CUDAToolkit_ROOT: toolkitRoot,
    TORCH_CUDA_ARCH_LIST: process.env.TORCH_CUDA_ARCH_LIST || DEFAULT_CUDA_ARCH_LIST,
  };
  const nvidia = nvidiaCudaDir(torch.root);
  if (nvidia) {
    defines.ALIGNKIT_NVIDIA_DIR = nvidia;
    const nvrtc = readdirSync(join(nvidia, 'lib')).find((name) => /^libnvrtc\.so\.\d+$/.test(name));
    if (nvrtc) defines.CUDA_nvrtc_LIBRARY = join(nvidia, 'lib', nvrtc);
  }
  return [...cmake4Args(), ...Object.entries(defines).map(([key, value]) => `--CD${key}=${value}`)];
}

// Warnings in our C++ are errors (CMakeLists.txt's ALIGNKIT_WERROR) when building from a git checkout, CI's clone
// included, so a contributor sees a new one at once; an installed package only prints them, so a user's build
// against a newer libtorch or compiler does not fail on one. ALIGNKIT_WERROR=0|1 overrides.
const inCheckout = () => existsSync(join(packageRoot, '.git'));

function werror() {
  const setting = process.env.ALIGNKIT_WERROR;
  return setting ? setting !== '0' : inCheckout();
}

export const verboseRequested = (argv = process.argv) =>
  argv.includes('--verbose') || process.env.ALIGNKIT_VERBOSE === '1';

// Runs cmake-js, streaming its output when verbose; otherwise keeping it to print the end of it on failure.
function runCmakeJs(args, verbose) {
  const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  const run = spawnSync(process.execPath, [cmakeJs, ...args], {
    cwd: packageRoot,
    stdio: verbose ? 'inherit' : 'pipe',
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status === 0) return;
  if (!verbose) {
    const lines = `${run.stdout ?? ''}${run.stderr ?? ''}`.trimEnd().split('\n');
    console.error(lines.slice(-80).join('\n'));
  }
  throw new Error(
    'alignkit: the native build failed (the end of the compiler output is above; --verbose shows all of it). It ' +
      'needs cmake >= 3.18, a C++20 compiler (g++ >= 10 or clang >= 12) and ninja or make; CUDA libtorch also ' +
      'needs nvcc and cmake >= 4.',
  );
}

/**
 * Builds the addon. `buildDir`: where cmake-js builds (default: build/ in a checkout, a temporary folder otherwise);
 * `torch`: a resolveLibtorch() result (default: the one found). The addon and its libtorch.json end in
 * <buildDir>/Release/, or build/Release/ when built in a temporary folder. Returns the libtorch and the build folder.
 */
export function buildNative({ log = console.log, verbose = verboseRequested(), buildDir, torch } = {}) {
  torch ??= resolveLibtorch({ log });
  const keep = buildDir !== undefined || inCheckout();
  const dir = buildDir ?? (keep ? join(packageRoot, 'build') : mkdtempSync(join(tmpdir(), 'alignkit-build-')));
  const started = Date.now();
  log(
    `alignkit: compiling the addon against libtorch ${torch.version} from ${torch.source} (${torch.root})` +
      (torch.cuda ? ', with CUDA sources' : ', CPU only') +
      (verbose ? '' : ` in ${dir}; about 5-10 minutes on 2 cores, 1-2 on 16 (--verbose shows the compiler)`),
  );
  const defines = [
    `--CDALIGNKIT_TORCH_PREFIX=${torch.cmakePrefix}`,
    `--CDALIGNKIT_WERROR=${werror() ? 'ON' : 'OFF'}`,
    ...(torch.cuda ? cudaArgs(torch) : []),
  ];
  // `compile` reuses an existing configuration; another libtorch or other CUDA settings need a fresh one.
  const recorded = join(dir, 'Release', 'libtorch.json');
  const previous = existsSync(recorded) ? JSON.parse(readFileSync(recorded, 'utf8')) : null;
  const reconfigure = previous?.root !== torch.root || JSON.stringify(previous?.defines) !== JSON.stringify(defines);
  try {
    runCmakeJs(
      [reconfigure ? 'rebuild' : 'compile', '--out', dir, '--parallel', String(cpus().length), ...defines],
      verbose,
    );
    writeFileSync(recorded, JSON.stringify({ ...torch, defines }, null, 2) + '\n');
    // From a temporary folder only the addon and its record move into the package.
    const release = keep ? join(dir, 'Release') : join(packageRoot, 'build', 'Release');
    if (!keep) {
      mkdirSync(release, { recursive: true });
      copyFileSync(join(dir, 'Release', 'alignkit.node'), join(release, 'alignkit.node'));
      copyFileSync(recorded, join(release, 'libtorch.json'));
    }
    log(`alignkit: compiled ${join(release, 'alignkit.node')} in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  return { torch, buildDir: dir };
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  try {
    buildNative();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
