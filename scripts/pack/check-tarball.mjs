#!/usr/bin/env node
// `npm run test:package` (CI runs it after `npm test`): the package as a user gets it. `npm pack` (prepack builds
// dist/ and the CPU prebuild), then in a fresh folder, with a PATH that has no compiler, cmake, ninja or make:
// `npm install <tarball>` must take the prebuild and fetch only libtorch, in under 60 s besides that download; leave
// no build folder in node_modules; give the prebuild an $ORIGIN-relative RUNPATH only; and the README's consumer
// script must type-check under strict and run (SFT -> DPO -> generate -> evaluate), while the same script with a
// misspelled key must fail tsc. Exits non-zero, saying which, when any of that does not hold.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../libtorch/resolve.mjs';
import { elfRunpath } from './elf-runpath.mjs';

const INSTALL_BUDGET_S = 60;
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};
const seconds = (since) => Math.round((Date.now() - since) / 100) / 10;

// A bin folder with node, npm, python3 and the shell tools npm's scripts use — and no compiler or build tool.
function compilerFreePath(work) {
  const bin = join(work, 'bin');
  mkdirSync(bin);
  const which = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
  const python = execFileSync(process.env.ALIGNKIT_PYTHON || 'python3', ['-c', 'import sys; print(sys.executable)'], {
    encoding: 'utf8',
  }).trim();
  symlinkSync(python, join(bin, 'python3'));
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const tool of [
    'npm',
    'npx',
    'sh',
    'bash',
    'env',
    'ls',
    'rm',
    'mkdir',
    'cat',
    'uname',
    'sed',
    'grep',
    'cp',
    'mv',
  ]) {
    const found = which(tool);
    if (found) symlinkSync(realpathSync(found), join(bin, tool));
  }
  return bin;
}

// The first ```ts block of the README's "Quick start (user)" section.
function readmeQuickStart() {
  const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start (user)'));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README.md: no ```ts block under "## Quick start (user)"');
  return block[1];
}

const work = mkdtempSync(join(tmpdir(), 'alignkit-tarball-'));
console.log(`alignkit: checking the packed package in ${work}`);

let started = Date.now();
// --loglevel warn: prepack's progress and any warning or error, without a notice line per packed file.
execFileSync('npm', ['pack', '--loglevel', 'warn', '--pack-destination', work], {
  cwd: packageRoot,
  stdio: ['ignore', 'inherit', 'inherit'],
});
const tarball = join(
  work,
  readdirSync(work).find((name) => name.endsWith('.tgz')),
);
console.log(`npm pack: ${seconds(started)} s`);
const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' });
check(
  listing.includes(`package/prebuilds/${process.platform}-${process.arch}/cpu/alignkit.node`),
  'the tarball holds the CPU prebuild',
);

const project = join(work, 'project');
mkdirSync(project);
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
const env = { ...process.env, PATH: compilerFreePath(work) };
for (const key of ['LIBTORCH', 'ALIGNKIT_BUILD_FROM_SOURCE', 'ALIGNKIT_DEVICE', 'CMAKE', 'CXX', 'CC']) delete env[key];
check(
  spawnSync(
    'sh',
    ['-c', 'command -v cmake || command -v c++ || command -v cc || command -v ninja || command -v make'],
    { env },
  ).status !== 0,
  'no compiler on the install PATH',
);
started = Date.now();
const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', tarball], {
  cwd: project,
  env,
  encoding: 'utf8',
});
const installSeconds = seconds(started);
console.log(
  install.stdout
    .split('\n')
    .filter((line) => line.startsWith('alignkit:'))
    .join('\n'),
);
check(
  install.status === 0,
  `npm install of the tarball succeeded${install.status === 0 ? '' : `:\n${install.stderr}`}`,
);
const pkg = join(project, 'node_modules', 'alignkit');
const fetched = Number(/torch \S+ \(\w+[^)]*\) installed in (\d+) s/.exec(install.stdout)?.[1] ?? 0);
check(
  installSeconds - fetched < INSTALL_BUDGET_S,
  `install took ${installSeconds} s, ${fetched} s of it fetching libtorch (budget ${INSTALL_BUDGET_S} s besides)`,
);
const record = existsSync(join(pkg, '.libtorch', 'install.json'))
  ? JSON.parse(readFileSync(join(pkg, '.libtorch', 'install.json'), 'utf8'))
  : {};
check(record.builtFromSource === false, `the install used the prebuild (${record.addon})`);
check(!existsSync(join(pkg, 'build')), 'no build folder in node_modules/alignkit');
const runpath = elfRunpath(join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, 'cpu', 'alignkit.node'));
check(
  runpath !== null && runpath.split(':').every((entry) => entry.startsWith('$ORIGIN/')),
  `the prebuild's RUNPATH is $ORIGIN-relative only (${runpath})`,
);

// The README's script, as the consumer's own code: type-checked under strict with the package's declarations, then run.
const tsc = join(packageRoot, 'node_modules', 'typescript', 'bin', 'tsc');
const tsconfig = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [join(packageRoot, 'node_modules', '@types')],
    outDir: 'built',
  },
  files: ['quickstart.ts'],
};
writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
const script = readmeQuickStart();
writeFileSync(join(project, 'quickstart.ts'), script);
const compiled = spawnSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
check(
  compiled.status === 0,
  `the README's script type-checks under strict${compiled.status === 0 ? '' : `:\n${compiled.stdout}`}`,
);
started = Date.now();
const ran = spawnSync(process.execPath, [join(project, 'built', 'quickstart.js')], {
  cwd: project,
  env,
  encoding: 'utf8',
  timeout: 900_000,
});
check(
  ran.status === 0,
  `the README's script ran in ${seconds(started)} s${ran.status === 0 ? '' : `:\n${ran.stderr.slice(-4000)}`}`,
);
if (ran.status === 0) console.log(ran.stdout.trim());
const misspelled = script.replace('learning_rate: 3e-3', 'learnign_rate: 3e-3');
check(misspelled !== script, "the misspelling reaches the README's script");
writeFileSync(join(project, 'quickstart.ts'), misspelled);
const refused = spawnSync(process.execPath, [tsc, '-p', project, '--noEmit'], { cwd: project, encoding: 'utf8' });
check(
  refused.status !== 0 && refused.stdout.includes('learnign_rate'),
  `tsc refuses the misspelled key (${refused.stdout.split('\n')[0]})`,
);

if (failures.length) {
  console.error(`alignkit: ${failures.length} package check(s) failed (work folder kept: ${work})`);
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
console.log('alignkit: the packed package installs without a compiler and runs the README');
