// Finds the libtorch alignkit builds and runs against, in this order:
//   1. LIBTORCH: a libtorch folder (include/, lib/, share/cmake/Torch) — the official zip or a pip `torch/` dir;
//   2. the `torch` package of python3 (or of ALIGNKIT_PYTHON), through its CMake prefix path;
//   3. the pinned CPU wheel, installed with the machine's pip into <package>/.libtorch (no venv, no deps).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PINNED_TORCH = '2.13.0+cpu';
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const localLibtorch = join(packageRoot, '.libtorch');

const python = () => process.env.ALIGNKIT_PYTHON || 'python3';

function describeRoot(root, source) {
  if (!existsSync(join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'))) {
    throw new Error(`${source}: ${root} is not a libtorch folder (no share/cmake/Torch/TorchConfig.cmake)`);
  }
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

// Installs the pinned wheel with `python3 -m pip install --target`, into a temp folder renamed into place
// so an interrupted install never leaves a half libtorch behind.
function installPinned(log) {
  const target = join(localLibtorch, 'torch');
  const staging = `${localLibtorch}.partial`;
  rmSync(staging, { recursive: true, force: true });
  log(`alignkit: installing torch==${PINNED_TORCH} (CPU) into ${localLibtorch} with ${python()} -m pip ...`);
  try {
    execFileSync(
      python(),
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--no-deps',
        '--no-compile',
        '--disable-pip-version-check',
        '--target',
        staging,
        `torch==${PINNED_TORCH}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
  } catch (err) {
    throw new Error(
      `could not install torch==${PINNED_TORCH} with pip (${err.message}). Set LIBTORCH to a libtorch folder, ` +
        'or install torch for python3, or configure pip (PIP_INDEX_URL) to reach a torch CPU wheel.',
      { cause: err },
    );
  }
  rmSync(localLibtorch, { recursive: true, force: true });
  renameSync(staging, localLibtorch);
  return target;
}

/**
 * Resolves libtorch for a source build. With `install: false` it only looks, returning null if none is found.
 */
export function resolveLibtorch({ install = true, log = console.log } = {}) {
  if (process.env.LIBTORCH) return describeRoot(resolve(process.env.LIBTORCH), 'LIBTORCH');
  const fromPython = pythonTorchRoot();
  if (fromPython) return describeRoot(fromPython, `${python()} torch`);
  const local = join(localLibtorch, 'torch');
  if (existsSync(local)) return describeRoot(local, 'local pinned install');
  return install ? describeRoot(installPinned(log), 'local pinned install') : null;
}

/**
 * Makes <package>/.libtorch/torch hold libtorch `version` for a prebuilt addon, whose RUNPATH looks there:
 * a link to python3's torch when it is that version, else the pinned wheel.
 */
export function provideLocalLibtorch(version, { log = console.log } = {}) {
  const local = join(localLibtorch, 'torch');
  if (existsSync(local) && readVersion(local) === version) return describeRoot(local, 'local pinned install');
  const fromPython = pythonTorchRoot();
  if (fromPython && readVersion(fromPython) === version) {
    rmSync(localLibtorch, { recursive: true, force: true });
    mkdirSync(localLibtorch, { recursive: true });
    symlinkSync(fromPython, local);
    return describeRoot(local, `${python()} torch (linked)`);
  }
  if (version !== PINNED_TORCH)
    throw new Error(`prebuilt addon needs libtorch ${version}, which alignkit cannot install`);
  return describeRoot(installPinned(log), 'local pinned install');
}
