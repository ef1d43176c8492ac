// `npm install` hook: use the prebuilt addon when one matches this platform (it only needs its libtorch,
// which pip can provide without a compiler), else build from source. LIBTORCH or
// ALIGNKIT_BUILD_FROM_SOURCE=1 always build from source, against the chosen libtorch.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNative } from './build-native.mjs';
import { packageRoot, provideLocalLibtorch } from './libtorch/resolve.mjs';

const prebuildDir = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
const prebuildTorch = join(prebuildDir, 'libtorch.json');

try {
  if (existsSync(prebuildTorch) && !process.env.LIBTORCH && !process.env.ALIGNKIT_BUILD_FROM_SOURCE) {
    const { version } = JSON.parse(readFileSync(prebuildTorch, 'utf8'));
    const torch = provideLocalLibtorch(version);
    console.log(`alignkit: using the prebuilt addon in ${prebuildDir} with libtorch ${torch.version} from ${torch.source}`);
  } else {
    buildNative();
  }
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
