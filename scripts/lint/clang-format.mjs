#!/usr/bin/env node
// clang-format over our C++ (native/, binding/, the C++ under scripts/; not native/third_party/), with the
// binary the clang-format-node devDependency ships, so every machine formats with the same clang-format.
//   node scripts/lint/clang-format.mjs --check   # list the files that are not formatted; exit 1 if any
//   node scripts/lint/clang-format.mjs --write   # format them in place
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ROOTS = ['native', 'binding', 'scripts'];
const SKIP = new Set(['native/third_party']);
const CPP = /\.(cc|cpp|cu|cuh|h|hpp)$/;

function cppFiles(dir) {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (SKIP.has(path)) return [];
    if (entry.isDirectory()) return cppFiles(path);
    return CPP.test(entry.name) ? [path] : [];
  });
}

const mode = process.argv[2];
if (mode !== '--check' && mode !== '--write') {
  console.error('usage: node scripts/lint/clang-format.mjs --check | --write');
  process.exit(2);
}
const { clangFormatPath } = createRequire(import.meta.url)('clang-format-node');
const files = ROOTS.flatMap(cppFiles);
const args = mode === '--write' ? ['-i'] : ['--dry-run', '--Werror', '--ferror-limit=1'];
const run = spawnSync(clangFormatPath, [...args, ...files], { cwd: root, encoding: 'utf8' });
if (run.error) throw run.error;
if (mode === '--check' && run.status !== 0 && /: error: code should be clang-formatted/.test(run.stderr)) {
  const unformatted = [
    ...new Set([...run.stderr.matchAll(/^(\S+?):\d+:\d+: error: code should be/gm)].map((m) => relative(root, m[1]))),
  ];
  console.error(`clang-format: ${unformatted.length} file(s) not formatted (npm run format fixes them):`);
  for (const file of unformatted) console.error(`  ${file}`);
  process.exit(1);
}
if (run.status !== 0) {
  process.stderr.write(run.stderr);
  process.exit(run.status ?? 1);
}
