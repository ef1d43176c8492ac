// A preference row as TRL 1.13's RewardTrainer reads it: the layouts DPO accepts (preference-rows.ts; an implicit
// prompt stays inside chosen/rejected, since prompt + completion is what is scored) and the optional `margin`
// column, which the reward collator passes on when the first row has it.
import { toPreferenceExample, type PreferenceExample } from '../preference-rows.js';
import { dataError, describe, type RowLocation } from '../row-context.js';

export interface RewardExample extends PreferenceExample {
  /** The pair's margin (RewardTrainer subtracts it from r_chosen − r_rejected), when the dataset has the column. */
  margin?: number;
}

/** The reward example of one (column-mapped) row; `withMargin`: whether the dataset has a margin column (its first row). */
export function toRewardExample(values: Record<string, unknown>, at: RowLocation, withMargin: boolean): RewardExample {
  const example: RewardExample = toPreferenceExample(values, at);
  if (!withMargin) {
    if ('margin' in values)
      throw dataError(at, 'margin', 'the first row has no margin: every row or none must have one');
    return example;
  }
  const margin = values.margin;
  if (typeof margin !== 'number' || !Number.isFinite(margin))
    throw dataError(at, 'margin', `expected a finite number (the first row has a margin), got ${describe(margin)}`);
  example.margin = margin;
  return example;
}
