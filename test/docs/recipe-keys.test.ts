// docs/recipes.md's tables of keys without effect, refused keys and old spellings are those the schemas declare.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { DOC, recipeKeyTables, withTables } from '../../scripts/docs/recipe-keys.mjs';

describe('docs/recipes.md', () => {
  it('lists every key without effect, refused key and old spelling the schemas declare (node scripts/docs/recipe-keys.mjs --write)', () => {
    const doc = readFileSync(DOC, 'utf8');
    expect(doc).toBe(withTables(doc, recipeKeyTables()));
    expect(doc).toContain('| `deepspeed` |');
    expect(doc).toContain('| `warmup_ratio` | `warmup_steps` |');
  });
});
