// Finds the libtorch alignkit builds and runs against, in this order:
//   1. LIBTORCH: a libtorch folder (include/, lib/, share/cmake/Torch) — the official zip or a pip `torch/` dir;
//   2. the `torch` package of python3 (or of ALIGNKIT_PYTHON), through its CMake prefix path;
//   3. the pinned CPU wheel, installed with the machine's pip into <package>/.libtorch (no venv, no deps).
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The torch each prebuild variant is built against and install.mjs fetches: the CPU wheel, and the CUDA 13 wheel
// (PyPI's default build of 2.14.1) for machines with an NVIDIA driver. `version` is what the wheel reports.
export const PINNED = {
  cpu: { version: '2.13.0+cpu', wheel: '2.13.0+cpu', label: 'CPU' },
  cuda: { version: '2.14.1+cu130', wheel: '2.14.1', label: 'CUDA 13' },
};
export const PINNED_TORCH = PINNED.cpu.version;
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const localLibtorch = join(packageRoot, '.libtorch');

const python = () => process.env.ALIGNKIT_PYTHON || 'python3';

// `root` as a real path: .libtorch/torch may link to the folder a build was made against, which is then the same one.
export function describeLibtorch(linkedRoot, source) {
  if (!existsSync(join(linkedRoot, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'))) {
    throw new Error(`${source}: ${linkedRoot} is not a libtorch folder (no share/cmake/Torch/TorchConfig.cmake)`);
  }
  const root = realpathSync(linkedRoot);
  return {
    source,
    root,
    cmakePrefix: join(root, 'share', 'cmake'),
    libDir: join(root, 'lib'),
    version: readVersion(root),
    cuda: existsSync(join(root, 'lib', 'libtorch_cuda.so')),
  };
}

/**
 * The CUDA libraries and headers of the pip `nvidia-*` wheels a CUDA torch wheel depends on: they install
 * beside torch/ as nvidia/cu<major>/{lib,include}. Null for a libtorch without them (e.g. the official zip).
 */
export function nvidiaCudaDir(root) {
  const nvidia = join(root, '..', 'nvidia');
  if (!existsSync(nvidia)) return null;
  const cu = readdirSync(nvidia)
    .filter((name) => /^cu\d+$/.test(name))
    .sort()
    .pop();
  return cu ? resolve(nvidia, cu) : null;
}

// The official zip has build-version; a pip torch/ dir has version.py.
function readVersion(root) {
  const buildVersion = join(root, 'build-version');
  if (existsSync(buildVersion)) return readFileSync(buildVersion, 'utf8').trim();
  const versionPy = join(root, 'version.py');
  if (existsSync(versionPy)) {
    const match = /__version__\s*=\s*['"]([^'"]+)['"]/.exec(readFileSync(versionPy, 'utf8'));
    if (match) return match[1];
  }
  return 'unknown';
}

function pythonTorchRoot() {
  try {
    const out = execFileSync(python(), ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim() || null;
  } catch {
    return null;
  }
}

function pip(args, what) {
  try {
    execFileSync(
      python(),
      ['-m', 'pip', 'install', '--quiet', '--no-compile', '--disable-pip-version-check', ...args],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
  } catch (err) {
    throw new Error(
      `could not install ${what} with pip (${err.message}). Set LIBTORCH to a libtorch folder, ` +
        'or install torch for python3, or configure pip (PIP_INDEX_URL) to reach the torch wheels.',
      { cause: err },
    );
  }
}

// The native libraries a CUDA torch wheel loads: its Linux requirements named nvidia-* or cuda-toolkit[...] (the
// cuda-bindings and triton requirements are Python modules libtorch does not use, and the other ones pure Python).
function cudaLibraryRequirements(staging, version) {
  const metadata = readFileSync(join(staging, `torch-${version}.dist-info`, 'METADATA'), 'utf8');
  return [
    ...metadata.matchAll(/^Requires-Dist: ((?:nvidia-|cuda-toolkit)[^;\n]*);\s*platform_system == "Linux"/gm),
  ].map((match) => match[1].replace(/\s+/g, ''));
}

/**
 * Installs the pinned wheel of `variant` with `python3 -m pip install --target` into `dest` (torch/, and nvidia/ for
 * CUDA), through a temp folder renamed into place so an interrupted install never leaves a half libtorch behind:
 * torch alone for the CPU, torch and the nvidia-* libraries it names for CUDA (no Python packages either way).
 * Returns dest/torch.
 */
export function installPinned(variant, log = console.log, dest = localLibtorch) {
  const { wheel, label } = PINNED[variant];
  const staging = `${dest}.partial`;
  rmSync(staging, { recursive: true, force: true });
  const started = Date.now();
  log(`alignkit: fetching torch==${wheel} (${label}) with ${python()} -m pip into ${dest} ...`);
  pip(['--no-deps', '--target', staging, `torch==${wheel}`], `torch==${wheel}`);
  if (variant === 'cuda') {
    const libraries = cudaLibraryRequirements(staging, wheel);
    log(`alignkit: fetching the CUDA libraries torch ${wheel} loads (${libraries.length} wheels) ...`);
    pip(['--target', staging, ...libraries], 'the CUDA libraries');
  }
  rmSync(dest, { recursive: true, force: true });
  renameSync(staging, dest);
  log(`alignkit: torch ${wheel} (${label}) installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return join(dest, 'torch');
}

/**
 * Resolves libtorch for a source build. With `install: false` it only looks, returning null if none is found.
 * `variant` 'cuda' passes over a CPU-only python3 or local torch and installs the pinned CUDA wheel instead.
 */
export function resolveLibtorch({ install = true, log = console.log, variant = 'cpu' } = {}) {
  if (process.env.LIBTORCH) return describeLibtorch(resolve(process.env.LIBTORCH), 'LIBTORCH');
  const usable = (torch) => (variant === 'cuda' ? torch.cuda : true);
  const fromPython = pythonTorchRoot();
  if (fromPython && usable(describeLibtorch(fromPython, `${python()} torch`)))
    return describeLibtorch(fromPython, `${python()} torch`);
  const local = join(localLibtorch, 'torch');
  if (existsSync(local) && usable(describeLibtorch(local, 'local pinned install')))
    return describeLibtorch(local, 'local pinned install');
  return install ? describeLibtorch(installPinned(variant, log), 'local pinned install') : null;
}

/**
 * Makes <package>/.libtorch hold libtorch `version` for a prebuilt addon of `variant`, whose RUNPATH looks there
 * (torch/lib, and for CUDA nvidia/cu*\/lib): kept when it is that version already; links to python3's torch (and
 * the nvidia libraries beside it) when that is the version; else the pinned wheel.
 */
export function provideLocalLibtorch(version, { variant = 'cpu', log = console.log } = {}) {
  const local = join(localLibtorch, 'torch');
  if (existsSync(local) && readVersion(local) === version) return describeLibtorch(local, 'local pinned install');
  const fromPython = pythonTorchRoot();
  if (fromPython && readVersion(fromPython) === version && (variant === 'cpu' || nvidiaCudaDir(fromPython))) {
    rmSync(localLibtorch, { recursive: true, force: true });
    mkdirSync(localLibtorch, { recursive: true });
    symlinkSync(fromPython, local);
    if (variant === 'cuda') symlinkSync(join(fromPython, '..', 'nvidia'), join(localLibtorch, 'nvidia'));
    return describeLibtorch(local, `${python()} torch (linked)`);
  }
  if (version !== PINNED[variant].version)
    throw new Error(`prebuilt addon needs libtorch ${version}, which alignkit cannot install`);
  return describeLibtorch(installPinned(variant, log), 'local pinned install');
}

/** The version of the libtorch at `root` (the official zip's build-version, a pip torch's version.py). */
export function libtorchVersion(root) {
  return readVersion(root);
}
