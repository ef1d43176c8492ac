// Pairing strategies: how a ranked row (ranked-rows.ts) becomes the chosen/rejected pairs DPO trains on.
//   best_vs_worst   the highest score against the lowest.
//   best_vs_random  the highest against one of the lower-scored answers drawn at random (seeded): UltraFeedback's
//                   binarization, the ultrafeedback_binarized data the Zephyr recipe was trained on.
//   all_pairs       every pair of answers with different scores, the higher one chosen (ties skipped).
// A row whose answers all tie carries no preference and gives no pair. `listwise` keeps the whole ranking for
// the Plackett–Luce loss (src/train/listwise.ts) and pairs nothing.
import type { PreferenceExample } from '../preference-rows.js';
import { Pcg64 } from '../random/pcg64.js';
import { randomInterval } from '../random/permutation.js';
import { toRankedExample, type RankedExample, type UltraFeedbackScore } from './ranked-rows.js';
import type { RowLocation } from '../row-context.js';

export const RANKED_PAIRINGS = ['best_vs_worst', 'best_vs_random', 'all_pairs', 'listwise'] as const;
export type RankedPairing = (typeof RANKED_PAIRINGS)[number];

/** The dataset keys (src/config/dataset-fields.ts) that say how ranked rows are read. */
export interface RankedOptions {
  ranked_pairing: RankedPairing | null;
  ranked_score_field: UltraFeedbackScore;
  /** best_vs_random's draws: a PCG64 stream seeded with it (numpy's PCG64(seed)), one draw per row in data order. */
  seed: number;
}

const pair = (ex: RankedExample, chosen: number, rejected: number): PreferenceExample => ({
  at: ex.at,
  ...(ex.tools && { tools: ex.tools }),
  ...(ex.chatTemplateKwargs && { chatTemplateKwargs: ex.chatTemplateKwargs }),
  prompt: ex.prompt,
  chosen: ex.completions[chosen]!,
  rejected: ex.completions[rejected]!,
  conversational: ex.conversational,
});

/** The pairs of one ranked example (answers best first); `rng` draws best_vs_random's rejected answer. */
export function pairsOf(ex: RankedExample, pairing: Exclude<RankedPairing, 'listwise'>, rng: Pcg64) {
  const { scores } = ex;
  const last = scores.length - 1;
  if (scores.length < 2 || scores[0] === scores[last]) return [];
  if (pairing === 'best_vs_worst') return [pair(ex, 0, last)];
  if (pairing === 'best_vs_random') {
    const lower = scores.flatMap((s, i) => (s < scores[0]! ? [i] : []));
    return [pair(ex, 0, lower[randomInterval(rng, lower.length - 1)]!)];
  }
  const pairs: PreferenceExample[] = [];
  for (let i = 0; i < scores.length; i++)
    for (let j = i + 1; j < scores.length; j++) if (scores[i]! > scores[j]!) pairs.push(pair(ex, i, j));
  return pairs;
}

/** Reads a file's ranked rows into DPO pairs, counting the rows that tie throughout. */
export class RankedPairer {
  readonly #options: RankedOptions & { ranked_pairing: Exclude<RankedPairing, 'listwise'> };
  readonly #rng: Pcg64;
  /** Rows whose answers all have one score (no pair). */
  tied = 0;

  constructor(options: RankedOptions & { ranked_pairing: Exclude<RankedPairing, 'listwise'> }) {
    this.#options = options;
    this.#rng = Pcg64.fromSeed(options.seed);
  }

  pairs(values: Record<string, unknown>, at: RowLocation): PreferenceExample[] {
    const ex = toRankedExample(values, at, this.#options.ranked_score_field);
    const pairs = pairsOf(ex, this.#options.ranked_pairing, this.#rng);
    if (pairs.length === 0) this.tied++;
    return pairs;
  }
}
