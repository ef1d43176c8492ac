#!/usr/bin/env node
// `npm run prebuild [-- --cuda]`: the prebuilt addon of a variant, installed (`cmake --install --strip`, which
// rewrites its RUNPATH to the $ORIGIN-relative one CMakeLists.txt declares) into prebuilds/<platform>-<arch>/<variant>/
// with libtorch.json naming the torch it needs. Built against that variant's pinned torch: the CPU one from the
// checkout's own build/ when that was built against it (no second compile), else in build/prebuild-<variant>/; the
// CUDA one against the pinned CUDA wheel, installed into build/libtorch-cuda/ (about 4.3 GB with its nvidia-*
// libraries; needs nvcc and CMake >= 4, fetched into build/cmake4/ when the cmake on PATH is older).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNative, verboseRequested } from './build-native.mjs';
import { PINNED, describeLibtorch, installPinned, libtorchVersion, packageRoot } from './libtorch/resolve.mjs';

const log = (message) => console.log(message);
const readJson = (path) => (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null);

// The libtorch to build `variant` against: any of the pinned version — the one the checkout's build/ used, or its
// .libtorch — else the pinned wheel installed into build/libtorch-<variant>/.
function pinnedLibtorch(variant) {
  const { version } = PINNED[variant];
  const built = readJson(join(packageRoot, 'build', 'Release', 'libtorch.json'));
  const candidates = [
    [built?.root, built?.source],
    [join(packageRoot, '.libtorch', 'torch'), 'local pinned install'],
  ];
  for (const [root, source] of candidates) {
    if (root && existsSync(root) && libtorchVersion(root) === version) return describeLibtorch(root, source);
  }
  const dest = join(packageRoot, 'build', `libtorch-${variant}`);
  const root = join(dest, 'torch');
  if (existsSync(root) && libtorchVersion(root) === version) return describeLibtorch(root, `pinned ${variant} wheel`);
  return describeLibtorch(installPinned(variant, log, dest), `pinned ${variant} wheel`);
}

function cmakeVersion(cmake) {
  const out = spawnSync(cmake, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return Number(/cmake version (\d+)/.exec(out)?.[1] ?? 0);
}

// CUDA sources need CMake >= 4 (build-native.mjs reads CMAKE); the cmake wheel brings one without root.
function ensureCmake4() {
  if (process.env.CMAKE || cmakeVersion('cmake') >= 4) return;
  const target = join(packageRoot, 'build', 'cmake4');
  // The wheel's own binary: its bin/cmake is a Python launcher that needs the target folder on sys.path.
  const cmake = join(target, 'cmake', 'data', 'bin', 'cmake');
  if (!existsSync(cmake) || cmakeVersion(cmake) < 4) {
    log(`alignkit: the cmake on PATH is older than 4; fetching the cmake wheel into ${target} ...`);
    const pip = spawnSync(
      process.env.ALIGNKIT_PYTHON || 'python3',
      ['-m', 'pip', 'install', '--quiet', '--upgrade', '--disable-pip-version-check', '--target', target, 'cmake>=4'],
      { stdio: 'inherit' },
    );
    if (pip.status !== 0) throw new Error('alignkit: could not install cmake >= 4 with pip; set CMAKE to one');
  }
  process.env.CMAKE = cmake;
}

// The build folder whose addon becomes the prebuild: build/ itself when it was built against this very libtorch.
function buildFolder(variant, torch) {
  const current = readJson(join(packageRoot, 'build', 'Release', 'libtorch.json'));
  if (current?.root === torch.root && current?.version === torch.version) return join(packageRoot, 'build');
  return join(packageRoot, 'build', `prebuild-${variant}`);
}

// The cmake that configured `dir`: installing with another version can fail on its files.
function configuredCmake(dir) {
  const cache = readFileSync(join(dir, 'CMakeCache.txt'), 'utf8');
  return /^CMAKE_COMMAND:INTERNAL=(.+)$/m.exec(cache)?.[1] ?? 'cmake';
}

export function prebuild(variant, { verbose = verboseRequested() } = {}) {
  if (variant === 'cuda') ensureCmake4();
  const torch = pinnedLibtorch(variant);
  if (variant === 'cuda' && !torch.cuda) throw new Error(`alignkit: ${torch.root} is not a CUDA libtorch`);
  const { buildDir } = buildNative({ log, verbose, buildDir: buildFolder(variant, torch), torch });
  const out = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, variant);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const install = spawnSync(configuredCmake(buildDir), ['--install', buildDir, '--prefix', out, '--strip'], {
    encoding: 'utf8',
  });
  if (install.status !== 0) throw new Error(`alignkit: cmake --install failed:\n${install.stdout}${install.stderr}`);
  const record = { variant, version: torch.version, cuda: torch.cuda };
  writeFileSync(join(out, 'libtorch.json'), JSON.stringify(record, null, 2) + '\n');
  log(`alignkit: wrote the ${variant} prebuild for torch ${torch.version} to ${out}`);
  return out;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  try {
    prebuild(process.argv.includes('--cuda') ? 'cuda' : 'cpu');
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
