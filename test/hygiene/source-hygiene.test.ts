// Habits that go stale when broken, checked over every source file (src/, native/, binding/, test/, scripts/; not
// vendored code or generated fixtures): TRL and transformers are cited by function name, not line number (a line
// moves with every release); measured figures live in docs/performance.md, not in code comments; nothing refers to
// a path outside the repository (a fresh clone and CI have none of them).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ROOTS = ['src', 'native', 'binding', 'test', 'scripts'];
const SKIP = new Set(['native/third_party', 'test/fixtures', 'node_modules', '__pycache__']);
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|cc|cpp|cu|cuh|h|hpp|py|sh)$|(^|\/)CMakeLists\.txt$/;
const SELF = 'test/hygiene/source-hygiene.test.ts';

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (SKIP.has(path) || SKIP.has(entry.name)) return [];
    if (entry.isDirectory()) return sourceFiles(path);
    return SOURCE.test(path) && path !== SELF ? [path] : [];
  });
}

interface Line {
  file: string;
  line: number;
  text: string;
}

const lines: Line[] = ROOTS.flatMap(sourceFiles).flatMap((file) =>
  readFileSync(join(root, file), 'utf8')
    .split('\n')
    .map((text, i) => ({ file, line: i + 1, text })),
);

/** The comment part of a line: after `//` (or `#` in Python and shell), or a block comment's line. */
function commentOf({ file, text }: Line): string | null {
  const hash = /\.(py|sh)$|CMakeLists\.txt$/.test(file);
  const match = hash ? /(?:^|\s)#\s?(.*)$/.exec(text) : /(?:^|\s)\/\/\s?(.*)$|^\s*\/?\*+\s?(.*)$/.exec(text);
  return match ? (match[1] ?? match[2] ?? '') : null;
}

const where = (l: Line) => `${l.file}:${l.line}: ${l.text.trim()}`;

describe('source hygiene', () => {
  it('scans the tree', () => {
    expect(lines.length).toBeGreaterThan(10_000);
    expect(new Set(lines.map((l) => l.file.split('/')[0]))).toEqual(new Set(ROOTS));
  });

  it('cites TRL and transformers by function name, not line number', () => {
    const upstream = String.raw`(?:trl|transformers|peft|datasets|huggingface_hub|torch|\w+\.py)\b`;
    const lineCitation = new RegExp(
      [
        String.raw`\.py:\d+`, // dpo_trainer.py:812
        String.raw`#L\d+`, // a GitHub permalink's line anchor
        String.raw`${upstream}[^\n]{0,60}\b(?:lines?|l\.)\s*\d+`, // trl/trainer/dpo_trainer.py line 812
        String.raw`\b(?:lines?|l\.)\s*\d+(?:\s*[-–]\s*\d+)?\s+(?:of|in)\s+${upstream}`, // lines 80-95 of dpo_trainer.py
      ].join('|'),
      'i',
    );
    expect(lines.filter((l) => lineCitation.test(l.text)).map(where)).toEqual([]);
  });

  it('keeps measured figures in docs/performance.md, not in code comments', () => {
    const unit = String.raw`\d+(?:\.\d+)?\s?(?:ms|µs|s|min|KiB|MiB|GiB|KB|MB|GB|%|tokens/s|steps/s|it/s)(?![\w/])`;
    const speedup = String.raw`\d+(?:\.\d+)?\s?[x×]\s+(?:faster|slower|the speed|as fast)`;
    const percentFaster = String.raw`\d+(?:\s?[-–]\s?\d+)?\s?%\s+(?:faster|slower|more time|less time)`;
    const measured = String.raw`\bmeasured\b|\bbench(?:mark)?s?\b|\bbench:\w+`;
    const figure = (comment: string) =>
      new RegExp(`${speedup}|${percentFaster}`, 'i').test(comment) ||
      (new RegExp(measured, 'i').test(comment) && new RegExp(unit).test(comment));
    expect(lines.filter((l) => figure(commentOf(l) ?? '')).map(where)).toEqual([]);
  });

  it('refers to no path outside the repository', () => {
    // A path that starts the string or follows a space, quote, `=`, `(` or `/` (file:///…); not `<TMP>/home`.
    const outside = /(?<![\w>.-])(?:\.\.\/shared\b|\/work\/|\/opt\/|\/tmp\/|\/home\/\w|\/root\/|\/Users\/\w)/;
    const allowed: Record<string, string[]> = {
      // A made-up HOME under which the hub fixtures' paths were probed; never read.
      'test/hub/hub-env.test.ts': ['/home/alice'],
      'scripts/fixtures/make_hub_cache.py': ['/home/alice'],
      // Values that are never opened: an environment value the config overrides, an output_dir nothing writes to.
      'test/report/tensorboard.test.ts': ["'/tmp/tb'"],
      'scripts/fixtures/make_optim_reference.py': ['"/tmp/unused"'],
      // The reference environment's optional local package mirror, used only where it exists (PIP_INDEX_URL wins).
      'scripts/fixtures/python-env.sh': ['/opt/pypi', '/opt/wheels'],
    };
    const found = lines.filter((l) => outside.test(l.text) && !(allowed[l.file] ?? []).some((s) => l.text.includes(s)));
    expect(found.map(where)).toEqual([]);
  });
});
