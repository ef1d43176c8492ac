// `npm run prebuild`: prebuildify writes prebuilds/<platform>-<arch>/ with the addon built from source
// against the pinned CPU libtorch in .libtorch, plus libtorch.json naming that version for install.mjs.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PINNED_TORCH, packageRoot, provideLocalLibtorch } from './libtorch/resolve.mjs';

const torch = provideLocalLibtorch(PINNED_TORCH);
const prebuildify = createRequire(import.meta.url).resolve('prebuildify/bin.js');
// prebuildify drives node-gyp; build-native.mjs stands in for it and builds with cmake-js.
execFileSync(
  process.execPath,
  [
    prebuildify,
    '--napi',
    '--strip',
    '--name',
    'alignkit',
    '--node-gyp',
    join(packageRoot, 'scripts', 'build-native.mjs'),
  ],
  { cwd: packageRoot, stdio: 'inherit', env: { ...process.env, LIBTORCH: torch.root } },
);
const out = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'libtorch.json');
writeFileSync(out, JSON.stringify({ version: torch.version, cuda: torch.cuda }, null, 2) + '\n');
console.log(`alignkit: wrote ${out}`);
