// Ranked rows into the listwise table (preprocess-ranked.ts) and its batches (ranked-batches.ts): each prompt's
// answers best first, each tokenized as DPO tokenizes a completion (the same ids preprocessPreferences gives the
// best_vs_worst pair's chosen and rejected), tied rows left out; with ranked_pair_weighting score_gap, every pair of
// different scores a two-answer group weighted by its score difference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type DpoConfig } from '../../../src/config/load-config.js';
import { preprocessPreferences } from '../../../src/data/preprocess-preference.js';
import { preprocessRanked } from '../../../src/data/ranked/preprocess-ranked.js';
import { RankedBatches } from '../../../src/data/ranked/ranked-batches.js';
import { idColumn, readArrowFile } from '../../../src/data/token-table.js';
import { modelDir, tempDir } from '../../helpers/fixtures.js';

const rows = [
  { prompt: 'Q:', completions: [' b', ' a', ' d', ' c'], scores: [3, 4, 1, 2] },
  { prompt: 'R:', completions: [' x', ' y'], scores: [1, 1] },
  { prompt: 'S:', completions: [' p', ' q', ' r'], scores: [0, 2, 1] },
];

function configFor(dir: string, extra: Record<string, unknown>): DpoConfig {
  const data = join(dir, 'ranked.jsonl');
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return resolveConfig({
    trainer: 'dpo',
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    ...extra,
  }) as DpoConfig;
}

const batchOptions = { batchSize: 8, seed: 0, shuffle: false, groupByLength: false, dropLast: false, padTokenId: 0 };

describe('the listwise table', () => {
  it("holds each prompt's answers best first, with DPO's completion ids", async () => {
    const dir = tempDir('ranked-table');
    const logs: string[] = [];
    const summary = await preprocessRanked(configFor(dir, { ranked_pairing: 'listwise' }), {
      split: 'train',
      log: (m) => logs.push(m),
    });
    expect(summary).toMatchObject({ rows: 2, answers: 7, tied: 1 });
    expect(logs).toContain('ranked_pairing: listwise: 1 row(s) whose answers all have one score left out');
    // best_vs_worst pairs of the same rows: chosen = the best answer's ids, rejected = the worst's.
    const pairs = await preprocessPreferences(configFor(tempDir('ranked-pairs'), { ranked_pairing: 'best_vs_worst' }), {
      split: 'train',
    });
    const pairTable = await readArrowFile(pairs.path);
    const ids = (column: string, row: number) => {
      const c = idColumn(pairTable, column);
      return [...c.values.subarray(c.offsets[row], c.offsets[row + 1])];
    };
    const batches = new RankedBatches(await readArrowFile(summary.path), {
      ...batchOptions,
      maxLength: null,
      padToMultipleOf: null,
    });
    const b = batches.collate([0, 1]);
    expect(b.groupSizes).toEqual([4, 3]);
    expect(b.weights).toBeUndefined();
    const row = (r: number) => {
      const at = r * b.seqLen;
      const tokens = [...b.inputIds.subarray(at, at + b.seqLen)];
      const mask = [...b.completionMask.subarray(at, at + b.seqLen)];
      return {
        prompt: tokens.filter((_, t) => b.attentionMask[at + t] && !mask[t]),
        answer: tokens.filter((_, t) => mask[t]),
      };
    };
    for (const [pair, best, worst] of [
      [0, 0, 3],
      [1, 4, 6],
    ] as const) {
      expect(row(best)).toEqual({ prompt: ids('prompt_ids', pair), answer: ids('chosen_ids', pair) });
      expect(row(worst)).toEqual({ prompt: ids('prompt_ids', pair), answer: ids('rejected_ids', pair) });
    }
  });

  it('score_gap: every pair of different scores, weighted by its difference', async () => {
    const dir = tempDir('ranked-gap');
    const config = configFor(dir, { ranked_pairing: 'all_pairs', ranked_pair_weighting: 'score_gap' });
    const summary = await preprocessRanked(config, { split: 'train' });
    // Q: 4 > 3 > 2 > 1 gives 6 pairs; S: 2 > 1 > 0 gives 3.
    expect(summary).toMatchObject({ rows: 9, answers: 18, tied: 1 });
    const batches = new RankedBatches(await readArrowFile(summary.path), {
      ...batchOptions,
      batchSize: 9,
      maxLength: 4,
      padToMultipleOf: 8,
    });
    const b = batches.collate([...Array(9).keys()]);
    expect(b.groupSizes).toEqual(Array(9).fill(2));
    expect([...b.weights!]).toEqual([1, 2, 3, 1, 2, 1, 1, 2, 1]);
    // max_length cuts every row to its first 4 tokens; pad_to_multiple_of rounds the length up.
    expect(b.seqLen).toBe(8);
    expect(
      Math.max(
        ...Array.from({ length: 18 }, (_, r) => b.attentionMask.subarray(r * 8, r * 8 + 8).reduce((a, x) => a + x, 0)),
      ),
    ).toBe(4);
  });
});
