#!/usr/bin/env node
// `prepack` (npm pack / npm publish): what the tarball needs that a clone lacks — dist/ and the prebuilt addon
// (prebuilds/<platform>-<arch>/cpu/, and cuda/ with ALIGNKIT_PREBUILD_CUDA=1). A fresh clone has no devDependencies
// yet, so they are installed first (scripts skipped: the prebuild compiles what it needs).
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../libtorch/resolve.mjs';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (args) => execFileSync(npm, args, { cwd: packageRoot, stdio: 'inherit' });

if (!existsSync(join(packageRoot, 'node_modules', 'typescript'))) {
  console.log('alignkit: installing the devDependencies the build needs (npm install --ignore-scripts) ...');
  run(['install', '--ignore-scripts', '--no-audit', '--no-fund']);
}
run(['run', 'build:ts']);
// Imported only now: build-native.mjs needs cmake-js from node_modules.
const { prebuild } = await import('../prebuild.mjs');
prebuild('cpu');
const cudaDir = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'cuda');
if (process.env.ALIGNKIT_PREBUILD_CUDA === '1') prebuild('cuda');
else {
  rmSync(cudaDir, { recursive: true, force: true });
  console.log('alignkit: no CUDA prebuild in this tarball (ALIGNKIT_PREBUILD_CUDA=1 builds one: nvcc, CMake >= 4)');
}
