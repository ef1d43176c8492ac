// Turns a dataset row into the prompt/completion/label examples TRL 1.13's KTOTrainer tokenizes. An unpaired row
// (prompt, completion, label; text or messages) is one example. A preference pair (chosen/rejected, with an
// explicit or implicit prompt, in any layout preference-rows.ts reads) becomes two, as TRL's
// unpair_preference_dataset (data_utils.py, _unpair_row) makes them: per datasets.map batch of pairs, every chosen
// completion (label true), then every rejected one (label false).
import type { Side } from '../extract-prompt.js';
import { toPreferenceExample, type PreferenceExample } from '../preference-rows.js';
import { dataError, describe, type RowLocation } from '../row-context.js';
import { toSftExample } from '../sft/sft-rows.js';

export interface UnpairedExample extends Omit<PreferenceExample, 'chosen' | 'rejected'> {
  completion: Side;
  /** Desirable (true) or undesirable (false). */
  label: boolean;
}

/** One dataset row: an unpaired example, or a preference pair that unpairs into two. */
export type UnpairedRow = { paired: false; example: UnpairedExample } | { paired: true; pair: PreferenceExample };

// datasets stores a bool column; TRL's loss casts labels to bool, so 0/1 integers (Parquet, pandas) read the same.
// CSV values stay text (readers/csv.ts): the spellings pandas reads as booleans or 0/1 are accepted there.
const LABELS = new Map<unknown, boolean>([
  [true, true],
  [false, false],
  [1, true],
  [0, false],
  ['true', true],
  ['True', true],
  ['TRUE', true],
  ['1', true],
  ['false', false],
  ['False', false],
  ['FALSE', false],
  ['0', false],
]);

const present = (values: Record<string, unknown>, field: string) =>
  values[field] !== undefined && values[field] !== null;

function label(at: RowLocation, value: unknown): boolean {
  const parsed = LABELS.get(value);
  if (parsed === undefined)
    throw dataError(at, 'label', `expected true (desirable) or false (undesirable), or 1/0, got ${describe(value)}`);
  return parsed;
}

/** An explicit prompt/completion/label row; prompt and completion are read as SFT's prompt/completion rows. */
function toUnpairedExample(values: Record<string, unknown>, at: RowLocation): UnpairedExample {
  for (const field of ['prompt', 'completion', 'label']) {
    if (!present(values, field)) {
      throw dataError(
        at,
        undefined,
        `missing field '${field}' (unpaired rows need prompt, completion and label; preference ` +
          `rows chosen and rejected; found ${Object.keys(values).join(', ') || 'no fields'}; map other names with dataset_columns)`,
      );
    }
  }
  const sft = toSftExample(values, at, { dataset_text_field: 'text' });
  if (!('completion' in sft)) throw new Error(`toSftExample read a row with a prompt as ${sft.format}`);
  const { completion } = sft;
  if (typeof completion === 'string' ? completion.length === 0 : completion.every((m) => m.content === '')) {
    throw dataError(at, 'completion', typeof completion === 'string' ? 'empty text' : 'every message is empty');
  }
  const { tools, chatTemplateKwargs } = sft;
  return {
    prompt: sft.prompt,
    completion,
    label: label(at, values.label),
    conversational: Array.isArray(completion),
    tools,
    chatTemplateKwargs,
    at,
  };
}

/** The (column-mapped) row as an unpaired example, or as the preference pair it holds. */
export function toUnpairedRow(values: Record<string, unknown>, at: RowLocation): UnpairedRow {
  if ('chosen' in values || 'rejected' in values) return { paired: true, pair: toPreferenceExample(values, at) };
  return { paired: false, example: toUnpairedExample(values, at) };
}

/** TRL's _unpair_row on one datasets.map batch of pairs: all the chosen completions first, then all the rejected. */
export function unpairBatch(pairs: PreferenceExample[]): UnpairedExample[] {
  const side = (desirable: boolean) =>
    pairs.map(({ chosen, rejected, ...rest }) => ({
      ...rest,
      completion: desirable ? chosen : rejected,
      label: desirable,
    }));
  return [...side(true), ...side(false)];
}
