// `npm install` hook and `npx alignkit setup`: picks the variant (CUDA where an NVIDIA driver is, else CPU;
// ALIGNKIT_DEVICE decides instead), then uses the package's prebuilt addon of that variant, which needs only its
// libtorch (pip provides it without a compiler), or builds one from source: in a git checkout, with LIBTORCH or
// ALIGNKIT_BUILD_FROM_SOURCE=1, or when no prebuild matches. Records what it did in .libtorch/install.json, which the
// loader (src/native.ts) and `alignkit info` read, and ends with one line saying what was installed where.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildNative, findNvcc, verboseRequested } from './build-native.mjs';
import { pickDevice } from './libtorch/device.mjs';
import { localLibtorch, packageRoot, provideLocalLibtorch, resolveLibtorch } from './libtorch/resolve.mjs';

const platform = `${process.platform}-${process.arch}`;
const prebuildDir = (variant) => join(packageRoot, 'prebuilds', platform, variant);

function hasNvcc() {
  try {
    findNvcc();
    return true;
  } catch {
    return false;
  }
}

// Why this install compiles instead of using a prebuild; null when the prebuild serves.
function sourceBuildReason(variant) {
  if (process.env.LIBTORCH) return 'LIBTORCH is set';
  if (process.env.ALIGNKIT_BUILD_FROM_SOURCE === '1') return 'ALIGNKIT_BUILD_FROM_SOURCE=1';
  if (existsSync(join(packageRoot, '.git')) && process.env.ALIGNKIT_USE_PREBUILD !== '1') return 'a git checkout';
  if (!existsSync(join(prebuildDir(variant), 'libtorch.json'))) return `no ${variant} prebuild for ${platform}`;
  return null;
}

export function setup({ log = console.log, verbose = verboseRequested() } = {}) {
  const started = Date.now();
  let { variant, reason } = pickDevice();
  log(`alignkit: ${variant === 'cuda' ? 'CUDA' : 'CPU'} install: ${reason}`);
  let fromSource = sourceBuildReason(variant);
  // A GPU machine with neither a CUDA prebuild nor nvcc still gets a working (CPU) install, saying so.
  if (variant === 'cuda' && fromSource && !process.env.LIBTORCH && !hasNvcc()) {
    log(
      `alignkit: ${fromSource} and no nvcc to compile one: installing the CPU variant instead ` +
        '(install the CUDA toolkit and run `npx alignkit setup` for the GPU; ALIGNKIT_DEVICE=cpu skips this check)',
    );
    variant = 'cpu';
    reason = `${reason}, but ${fromSource} and no nvcc`;
    fromSource = sourceBuildReason(variant);
  }
  let torch;
  let addon;
  if (fromSource) {
    log(`alignkit: building from source (${fromSource})`);
    ({ torch } = buildNative({ log, verbose, torch: resolveLibtorch({ log, variant }) }));
    addon = join(packageRoot, 'build', 'Release', 'alignkit.node');
  } else {
    const { version } = JSON.parse(readFileSync(join(prebuildDir(variant), 'libtorch.json'), 'utf8'));
    torch = provideLocalLibtorch(version, { variant, log });
    addon = join(prebuildDir(variant), 'alignkit.node');
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  const record = {
    variant,
    reason,
    addon: relative(packageRoot, addon),
    builtFromSource: Boolean(fromSource),
    torch: { version: torch.version, source: torch.source, root: torch.root, cuda: torch.cuda },
    seconds,
  };
  mkdirSync(localLibtorch, { recursive: true });
  writeFileSync(join(localLibtorch, 'install.json'), JSON.stringify(record, null, 2) + '\n');
  log(
    `alignkit: installed the ${variant === 'cuda' ? 'CUDA' : 'CPU'} addon ${addon} ` +
      `(${fromSource ? 'built from source' : 'prebuilt'}) with libtorch ${torch.version} from ${torch.source} ` +
      `(${torch.root}) in ${seconds} s`,
  );
  return record;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  try {
    setup();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
