// extractPrompt equals TRL 1.13's extract_prompt (scripts/fixtures/make_trl_extract_prompt.py), quirks included.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractPrompt, type Side } from '../../src/data/extract-prompt.js';
import { fixturesDir } from '../helpers/fixtures.js';

const cases: { input: { chosen: Side; rejected: Side }; output: { prompt: Side; chosen: Side; rejected: Side } }[] =
  JSON.parse(readFileSync(join(fixturesDir, 'trl', 'extract-prompt.json'), 'utf8'));

describe('extractPrompt', () => {
  it.each(cases.map((c) => [JSON.stringify(c.input).slice(0, 60), c] as const))('%s', (_, c) => {
    expect(extractPrompt(c.input.chosen, c.input.rejected)).toEqual(c.output);
  });
});
