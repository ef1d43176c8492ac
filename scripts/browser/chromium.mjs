#!/usr/bin/env node
// A headless Chromium for the browser tests, as a command: $CHROMIUM, else one on PATH, else Debian's
// chromium-headless-shell fetched once into node_modules/.cache/alignkit-chromium and reused while it is there.
// The fetch needs no root and changes nothing on the system: apt-get reads the system's sources into a private
// state folder and downloads the package with the libraries this system lacks, dpkg-deb unpacks them, and a
// wrapper runs the browser with those libraries on LD_LIBRARY_PATH (docs/performance.md: how long a cold fetch takes).
//   node scripts/browser/chromium.mjs      # prints the command, fetching it first if needed
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CACHE = join(ROOT, 'node_modules', '.cache', 'alignkit-chromium');
const WRAPPER = join(CACHE, 'chromium');
const BINARY = join('usr', 'lib', 'chromium', 'chromium-headless-shell');
const ON_PATH = ['chromium-headless-shell', 'chromium', 'google-chrome-stable', 'google-chrome'];
// chromium-common holds the resources (ICU data, V8 snapshots) the shell loads from its own folder.
const PACKAGES = ['chromium-headless-shell', 'chromium-common'];

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    const why = result.error?.message ?? result.stderr.trim().split('\n').slice(-5).join('\n');
    throw new Error(
      `chromium.mjs: \`${command} ${args.join(' ')}\` failed:\n${why}\n` +
        "Set CHROMIUM to a Chromium or Chrome binary, or install Debian's chromium (fetching it needs apt-get and dpkg-deb).",
    );
  }
  return result.stdout;
}

/** Every folder under `dir` that holds a shared library (multiarch folders, pulseaudio/ and the like). */
function libraryDirs(dir) {
  const found = new Set();
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(d, entry.name));
      else if (/\.so(\.\d+)*$/.test(entry.name)) found.add(d);
    }
  };
  walk(dir);
  return [...found];
}

/** Downloads and unpacks into `work`, writing the wrapper there. */
function unpackDebian(work) {
  const lists = join(work, 'lists');
  const debs = join(work, 'debs');
  mkdirSync(join(lists, 'partial'), { recursive: true });
  mkdirSync(join(debs, 'partial'), { recursive: true });
  // A private copy of the package lists (the system's may be stale or absent), no locks on the system's state;
  // as root, apt would hand downloads to the _apt user, who cannot write here.
  const apt = [
    '-q',
    '-o',
    `Dir::State::Lists=${lists}`,
    '-o',
    `Dir::Cache::archives=${debs}`,
    '-o',
    'Dir::Cache::pkgcache=',
    '-o',
    'Dir::Cache::srcpkgcache=',
    '-o',
    'Debug::NoLocking=1',
    '-o',
    `APT::Sandbox::User=${userInfo().username}`,
  ];
  run('apt-get', [...apt, 'update']);
  // --reinstall: the packages themselves even where installed; apt adds the dependencies this system lacks.
  run('apt-get', [...apt, 'install', '-d', '-y', '--reinstall', '--no-install-recommends', ...PACKAGES]);
  const root = join(work, 'root');
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb'))) run('dpkg-deb', ['-x', join(debs, deb), root]);

  const libs = libraryDirs(root)
    .map((d) => `"$HERE/${relative(work, d)}"`)
    .join(':');
  writeFileSync(
    join(work, 'chromium'),
    [
      '#!/bin/sh',
      "# Written by scripts/browser/chromium.mjs: Debian's chromium-headless-shell with the libraries unpacked beside it.",
      'HERE="$(cd "$(dirname "$0")" && pwd)"',
      `LD_LIBRARY_PATH=${libs}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec "$HERE/${relative(work, join(root, BINARY))}" "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(join(work, 'chromium'), 0o755);
  rmSync(lists, { recursive: true });
  rmSync(debs, { recursive: true });
  run(join(work, 'chromium'), ['--version']);
}

// Built beside the cache and renamed into place, so an interrupted fetch leaves no half browser to reuse.
function fetchDebian() {
  const work = `${CACHE}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  try {
    unpackDebian(work);
    rmSync(CACHE, { recursive: true, force: true });
    renameSync(work, CACHE);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The command that runs a headless Chromium; fetches Debian's the first time none is found. */
export function chromium() {
  const found = process.env.CHROMIUM || ON_PATH.map(onPath).find(Boolean);
  if (found) return found;
  if (!existsSync(WRAPPER)) fetchDebian();
  return WRAPPER;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const start = performance.now();
  const command = chromium();
  console.log(command);
  console.error(
    `${execFileSync(command, ['--version'], { encoding: 'utf8' }).trim()} (${((performance.now() - start) / 1000).toFixed(1)} s)`,
  );
}
