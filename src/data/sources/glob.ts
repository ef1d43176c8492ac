// The glob `datasets` resolves data-file patterns with (fsspec's AbstractFileSystem.glob, as
// datasets.data_files.resolve_pattern calls it), over a list of a repo's files (a local folder's, or the hub's
// listing of a repo): `*` within one path part, `**` any number of parts, `[...]` sets; matches in sorted path
// order; hidden and `__special__` parts, README.md and friends left out unless the pattern names them.
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { AlignkitError } from '../../errors.js';

/** datasets' FILES_TO_IGNORE: never data, unless the pattern names the file itself. */
const FILES_TO_IGNORE = [
  'README.md',
  'config.json',
  'dataset_info.json',
  'dataset_infos.json',
  'dummy_data.zip',
  'dataset_dict.json',
];

/** Python's glob.has_magic. */
export const hasMagic = (pattern: string): boolean => /[*?[]/.test(pattern);

const escapeRegExp = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** fsspec's `_translate` (CPython's glob translation of one path part); STAR and QUESTION_MARK stay inside a part. */
function translatePart(pat: string): string {
  const STAR = '[^/]*';
  const out: string[] = [];
  let i = 0;
  const n = pat.length;
  while (i < n) {
    const c = pat[i]!;
    i += 1;
    if (c === '*') {
      if (out.length === 0 || out[out.length - 1] !== STAR) out.push(STAR); // consecutive stars are one
    } else if (c === '?') {
      out.push('[^/]');
    } else if (c === '[') {
      let j = i;
      if (j < n && pat[j] === '!') j += 1;
      if (j < n && pat[j] === ']') j += 1;
      while (j < n && pat[j] !== ']') j += 1;
      if (j >= n) {
        out.push('\\[');
        continue;
      }
      let stuff = pat.slice(i, j);
      if (!stuff.includes('-')) {
        stuff = stuff.replaceAll('\\', '\\\\');
      } else {
        const chunks: string[] = [];
        let k = pat[i] === '!' ? i + 2 : i + 1;
        for (;;) {
          k = pat.indexOf('-', k);
          if (k < 0 || k >= j) break;
          chunks.push(pat.slice(i, k));
          i = k + 1;
          k = k + 3;
        }
        const chunk = pat.slice(i, j);
        if (chunk) chunks.push(chunk);
        else chunks[chunks.length - 1] += '-';
        // Remove empty ranges (invalid in a regular expression).
        for (let m = chunks.length - 1; m > 0; m--) {
          if (chunks[m - 1]!.slice(-1) > chunks[m]![0]!) {
            chunks[m - 1] = chunks[m - 1]!.slice(0, -1) + chunks[m]!.slice(1);
            chunks.splice(m, 1);
          }
        }
        stuff = chunks.map((s) => s.replaceAll('\\', '\\\\').replaceAll('-', '\\-')).join('-');
      }
      stuff = stuff.replace(/([&~|])/g, '\\$1');
      i = j + 1;
      if (!stuff) out.push('(?!)');
      else if (stuff === '!') out.push('.');
      else {
        if (stuff[0] === '!') stuff = '^' + stuff.slice(1);
        else if (stuff[0] === '^' || stuff[0] === '[') stuff = '\\' + stuff;
        out.push(`[${stuff}]`);
      }
    } else {
      out.push(escapeRegExp(c));
    }
  }
  return out.join('');
}

/** fsspec's glob_translate for `/`-separated paths: a regular expression matching a whole path. */
export function globToRegExp(pattern: string): RegExp {
  const parts = pattern.split('/');
  const last = parts.length - 1;
  const out: string[] = [];
  parts.forEach((part, idx) => {
    if (part === '*') out.push(idx < last ? '[^/]+/' : '[^/]+');
    else if (part === '**') out.push(idx < last ? '(?:.+/)?' : '.*');
    else {
      if (part.includes('**'))
        throw new AlignkitError(
          'ERR_INVALID_DATA',
          `data file pattern '${pattern}': '**' can only be an entire path component`,
        );
      if (part) out.push(translatePart(part));
      if (idx < last) out.push('/');
    }
  });
  return new RegExp(`^(?:${out.join('')})$`, 's');
}

const isHiddenPart = (part: string) => part.startsWith('.') && !/^\.+$/.test(part);
const countParts = (parts: string[], test: (part: string) => boolean) => parts.filter(test).length;

/**
 * The files of `files` (paths relative to one base folder, `/`-separated, sorted) that `pattern` matches, as
 * datasets' resolve_pattern returns them: in sorted order; a path with more hidden parts (or `__x` folders) than
 * the pattern names is left out, and README.md and friends unless named. `allowedExtensions`: keep only names one
 * of whose `.suffixes` is listed.
 */
export function matchFiles(
  files: readonly string[],
  pattern: string,
  allowedExtensions?: ReadonlySet<string>,
): string[] {
  const relPattern = pattern.replace(/^(\.\/)+/, '');
  const ignore = new Set(FILES_TO_IGNORE.filter((name) => name !== basename(relPattern)));
  const patternParts = relPattern.split('/');
  const hiddenInPattern = countParts(patternParts, isHiddenPart);
  const specialInPattern = countParts(patternParts.slice(0, -1), (p) => p.startsWith('__'));
  const regex = hasMagic(relPattern) ? globToRegExp(relPattern) : null;
  return files
    .filter((rel) => (regex ? regex.test(rel) : rel === relPattern))
    .filter((rel) => !ignore.has(basename(rel)))
    .filter((rel) => countParts(rel.split('/').slice(0, -1), (p) => p.startsWith('__')) === specialInPattern)
    .filter((rel) => countParts(rel.split('/'), isHiddenPart) === hiddenInPattern)
    .filter(
      (rel) =>
        !allowedExtensions ||
        basename(rel)
          .split('.')
          .slice(1)
          .some((s) => allowedExtensions.has(`.${s}`)),
    );
}

/** The files below `prefix` (a folder path relative to the same base), relative to it. */
export function filesUnder(files: readonly string[], prefix: string | null | undefined): string[] {
  const folder = (prefix ?? '').replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (!folder) return [...files];
  return files.filter((rel) => rel.startsWith(`${folder}/`)).map((rel) => rel.slice(folder.length + 1));
}

/**
 * Every file below `dir` (or a link to one: the hub cache's snapshot files are links to blobs), relative and
 * sorted. Links to folders are not followed (fsspec lists them as neither file nor folder); a `.git` folder
 * (a cloned repo's object store) is not walked.
 */
export function listFiles(dir: string, maxDepth = Infinity): string[] {
  const out: string[] = [];
  const visit = (folder: string, rel: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(folder, name);
      const entry = lstatSync(path);
      if (entry.isDirectory()) {
        if (depth < maxDepth && name !== '.git') visit(path, `${rel}${name}/`, depth + 1);
      } else if (isFile(path)) {
        out.push(`${rel}${name}`);
      }
    }
  };
  visit(dir, '', 1);
  return out.sort(comparePaths);
}

/** resolve_pattern for a pattern relative to a local folder, or absolute (a packaged loader's data_files): absolute paths. */
export function resolveLocalPattern(
  baseDir: string,
  pattern: string,
  allowedExtensions?: ReadonlySet<string>,
): string[] {
  const absolute = isAbsolute(pattern);
  const base = absolute ? '/' : baseDir;
  const relPattern = absolute ? pattern.replace(/^\/+/, '') : pattern.replace(/^(\.\/)+/, '');
  // Walk from the last folder before the first wildcard (fsspec's glob root), no deeper than the pattern reaches.
  const magicAt = relPattern.search(/[*?[]/);
  const rootEnd = magicAt < 0 ? relPattern.lastIndexOf('/') : relPattern.lastIndexOf('/', magicAt);
  const root = rootEnd < 0 ? '' : relPattern.slice(0, rootEnd);
  const maxDepth = relPattern.includes('**') ? Infinity : relPattern.slice(rootEnd + 1).split('/').length;
  const files = listFiles(join(base, root), maxDepth).map((rel) => (root ? `${root}/${rel}` : rel));
  return matchFiles(files, relPattern, allowedExtensions).map((rel) => join(base, rel));
}

/** True for a file or a link to a file. */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Python's str ordering (by code point), which `sorted()` in fsspec's glob uses. */
export function comparePaths(a: string, b: string): number {
  if (!/[\ud800-\udfff]/.test(a + b)) return a < b ? -1 : a > b ? 1 : 0;
  const ca = Array.from(a);
  const cb = Array.from(b);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const d = ca[i]!.codePointAt(0)! - cb[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}
