// Ranked rows (more than two graded answers per prompt) and the pairing strategies that make DPO pairs of them:
// best_vs_worst, best_vs_random (seeded, never a tie of the best), all_pairs (ties skipped); UltraFeedback's raw
// layout with either score; and preprocessPreferences reading a ranked file into the pairs' token table.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type DpoConfig } from '../../../src/config/load-config.js';
import { preprocessPreferences } from '../../../src/data/preprocess-preference.js';
import { pairsOf, RankedPairer } from '../../../src/data/ranked/ranked-pairs.js';
import { toRankedExample } from '../../../src/data/ranked/ranked-rows.js';
import { Pcg64 } from '../../../src/data/random/pcg64.js';
import { idColumn, readArrowFile } from '../../../src/data/token-table.js';
import { modelDir, tempDir } from '../../helpers/fixtures.js';

const at = { file: 'ranked.jsonl', row: 1 };
const row = {
  prompt: 'Q:',
  completions: [' b', ' a', ' d', ' c'],
  scores: [3, 4, 1, 3],
};
const sides = (pairs: { chosen: unknown; rejected: unknown }[]) => pairs.map((p) => [p.chosen, p.rejected]);

describe('ranked rows', () => {
  it('sorts the answers best first, ties in their order', () => {
    const ex = toRankedExample(row, at, 'overall_score');
    expect(ex.completions).toEqual([' a', ' b', ' c', ' d']);
    expect(ex.scores).toEqual([4, 3, 3, 1]);
    expect(ex.conversational).toBe(false);
  });

  it("reads UltraFeedback's raw rows as conversations, ranked by the score asked for", () => {
    const raw = {
      instruction: 'Name a colour.',
      completions: [
        { response: 'Red.', overall_score: 7, 'fine-grained_score': 4.25, model: 'x' },
        { response: 'Blue.', overall_score: 8, 'fine-grained_score': 3.5, model: 'y' },
      ],
    };
    const byOverall = toRankedExample(raw, at, 'overall_score');
    expect(byOverall.prompt).toEqual([{ role: 'user', content: 'Name a colour.' }]);
    expect(byOverall.completions).toEqual([
      [{ role: 'assistant', content: 'Blue.' }],
      [{ role: 'assistant', content: 'Red.' }],
    ]);
    expect(toRankedExample(raw, at, 'fine-grained_score').scores).toEqual([4.25, 3.5]);
  });

  it('names the field of a bad row', () => {
    expect(() => toRankedExample({ prompt: 'Q', completions: [' a', ' b'], scores: [1] }, at, 'overall_score')).toThrow(
      /scores.*one score per completion \(2\)/,
    );
    expect(() =>
      toRankedExample({ prompt: 'Q', completions: [' a', ' b'], scores: [1, 'x'] }, at, 'overall_score'),
    ).toThrow(/scores\[1\].*finite number/);
    expect(() => toRankedExample({ prompt: 'Q', chosen: 'a' }, at, 'overall_score')).toThrow(
      /ranked rows need a list of completions/,
    );
  });
});

describe('pairing strategies', () => {
  const ex = toRankedExample(row, at, 'overall_score');
  const rng = () => Pcg64.fromSeed(42);

  it('best_vs_worst: the highest score against the lowest', () => {
    expect(sides(pairsOf(ex, 'best_vs_worst', rng()))).toEqual([[' a', ' d']]);
  });

  it('all_pairs: every pair with different scores, ties skipped', () => {
    expect(sides(pairsOf(ex, 'all_pairs', rng()))).toEqual([
      [' a', ' b'],
      [' a', ' c'],
      [' a', ' d'],
      [' b', ' d'],
      [' c', ' d'],
    ]);
  });

  it('best_vs_random: the best against a lower answer drawn from the seeded stream', () => {
    const picks = (seed: number) => {
      const pairer = new RankedPairer({ ranked_pairing: 'best_vs_random', ranked_score_field: 'overall_score', seed });
      return Array.from({ length: 60 }, () => pairer.pairs(row, at)).map((p) => p[0]!.rejected);
    };
    const first = picks(42);
    expect(first[0]).toBeDefined();
    expect(picks(42)).toEqual(first); // seeded
    expect(picks(7)).not.toEqual(first);
    // Every lower answer is drawn, never the best itself.
    expect(new Set(first)).toEqual(new Set([' b', ' c', ' d']));
  });

  it('a row whose answers all tie gives no pair, and is counted', () => {
    const pairer = new RankedPairer({ ranked_pairing: 'all_pairs', ranked_score_field: 'overall_score', seed: 0 });
    expect(pairer.pairs({ prompt: 'Q', completions: [' a', ' b'], scores: [2, 2] }, at)).toEqual([]);
    expect(pairer.tied).toBe(1);
  });
});

describe('preprocessPreferences with ranked_pairing', () => {
  const rows = [
    row,
    { prompt: 'R:', completions: [' x', ' y', ' z'], scores: [0, 2, 1] },
    { prompt: 'S:', completions: [' p', ' q'], scores: [1, 1] },
  ];
  const configFor = (pairing: string, dir: string): DpoConfig => {
    const data = join(dir, 'ranked.jsonl');
    writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    return resolveConfig({
      trainer: 'dpo',
      model_name_or_path: modelDir('llama'),
      train_dataset: data,
      output_dir: join(dir, 'out'),
      ranked_pairing: pairing,
    }) as DpoConfig;
  };

  it.each([
    ['best_vs_worst', 2],
    ['best_vs_random', 2],
    ['all_pairs', 5 + 3],
  ])('%s: %i pairs, the tied row left out', async (pairing, pairs) => {
    const logs: string[] = [];
    const dir = tempDir(`ranked-${pairing}`);
    const summary = await preprocessPreferences(configFor(pairing, dir), { split: 'train', log: (m) => logs.push(m) });
    expect(summary.rows).toBe(pairs);
    expect(logs).toContain('ranked_pairing: 1 row(s) whose answers all have one score give no pair');
    const table = await readArrowFile(summary.path);
    expect(idColumn(table, 'chosen_ids').offsets.length - 1).toBe(pairs);
  });

  it('refuses ranked_pairing for online DPO, which judges its own pairs', () => {
    expect(() => resolveConfig({ trainer: 'online_dpo', ranked_pairing: 'all_pairs' })).toThrow(
      /ranked_pairing: "all_pairs" is not supported: online DPO samples and judges its own pairs/,
    );
  });
});
