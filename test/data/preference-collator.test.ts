// Batches equal TRL 1.13's DataCollatorForPreference (scripts/fixtures/make_trl_collator.py) element for element.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collatePreference } from '../../src/data/preference-collator.js';
import { buildTable, idColumn, IdColumnBuilder } from '../../src/data/token-table.js';
import { fixturesDir } from '../helpers/fixtures.js';

interface Case {
  settings: {
    max_length: number | null;
    truncation_mode: 'keep_start' | 'keep_end';
    pad_to_multiple_of: number | null;
  };
  pad_token_id: number;
  examples: { prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }[];
  input_ids: number[][];
  attention_mask: number[][];
  completion_mask: number[][];
}

const cases: Case[] = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'preference-collator.json'), 'utf8'));

function rows(flat: ArrayLike<number>, seqLen: number): number[][] {
  return Array.from({ length: flat.length / seqLen }, (_, r) => Array.from(flat).slice(r * seqLen, (r + 1) * seqLen));
}

describe('collatePreference', () => {
  it.each(cases.map((c) => [JSON.stringify(c.settings), c] as const))('matches TRL with %s', (_, c) => {
    const builders = {
      prompt_ids: new IdColumnBuilder(),
      chosen_ids: new IdColumnBuilder(),
      rejected_ids: new IdColumnBuilder(),
    };
    for (const ex of c.examples) {
      builders.prompt_ids.push(ex.prompt_ids);
      builders.chosen_ids.push(ex.chosen_ids);
      builders.rejected_ids.push(ex.rejected_ids);
    }
    const table = buildTable(builders);
    const columns = {
      prompt: idColumn(table, 'prompt_ids'),
      chosen: idColumn(table, 'chosen_ids'),
      rejected: idColumn(table, 'rejected_ids'),
    };
    const batch = collatePreference(
      columns,
      c.examples.map((_, i) => i),
      {
        padTokenId: c.pad_token_id,
        maxLength: c.settings.max_length,
        truncationMode: c.settings.truncation_mode,
        padToMultipleOf: c.settings.pad_to_multiple_of,
      },
    );
    expect(batch.pairs).toBe(c.examples.length);
    expect(rows(batch.inputIds, batch.seqLen)).toEqual(c.input_ids);
    expect(rows(batch.attentionMask, batch.seqLen)).toEqual(c.attention_mask);
    expect(rows(batch.completionMask, batch.seqLen)).toEqual(c.completion_mask);
  });
});
