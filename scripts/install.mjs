// `npm install` hook and `npx alignkit setup`: use the prebuilt addon when one matches this platform (it only
// needs its libtorch, which pip can provide without a compiler), else build from source. LIBTORCH or
// ALIGNKIT_BUILD_FROM_SOURCE=1 always build from source, against the chosen libtorch.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNative } from './build-native.mjs';
import { packageRoot, provideLocalLibtorch } from './libtorch/resolve.mjs';

export function setup({ log = console.log } = {}) {
  const prebuildDir = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  const prebuildTorch = join(prebuildDir, 'libtorch.json');
  if (!existsSync(prebuildTorch) || process.env.LIBTORCH || process.env.ALIGNKIT_BUILD_FROM_SOURCE) {
    return buildNative({ log });
  }
  const { version, cuda } = JSON.parse(readFileSync(prebuildTorch, 'utf8'));
  const torch = provideLocalLibtorch(version, { log });
  // Record where the prebuild's libtorch came from, for `alignkit info`.
  writeFileSync(
    prebuildTorch,
    JSON.stringify({ version, cuda, source: torch.source, root: torch.root }, null, 2) + '\n',
  );
  log(`alignkit: using the prebuilt addon in ${prebuildDir} with libtorch ${torch.version} from ${torch.source}`);
  return torch;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  try {
    setup();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
