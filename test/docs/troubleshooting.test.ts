// docs/troubleshooting.md has a section (`### ERR_…`) for every error code src/errors.ts declares. The codes are a
// type-only union, so they are read from the source: every quoted 'ERR_…' name in src/errors.ts (a union or a
// const list alike).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('docs/troubleshooting.md', () => {
  it('has a section for every error code in src/errors.ts', () => {
    const codes = [...new Set([...read('src/errors.ts').matchAll(/'(ERR_[A-Z_]+)'/g)].map((m) => m[1]!))];
    expect(codes).toContain('ERR_INVALID_CONFIG');
    const headings = new Set(
      [...read('docs/troubleshooting.md').matchAll(/^### (ERR_[A-Z_]+)\s*$/gm)].map((m) => m[1]),
    );
    expect(codes.filter((code) => !headings.has(code))).toEqual([]);
  });
});
