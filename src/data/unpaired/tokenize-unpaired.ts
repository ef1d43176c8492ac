// Tokenization identical to TRL 1.13's KTOTrainer._prepare_dataset (trainer/kto_trainer.py): EOS text appended to
// plain-text completions (add_eos), prompt ids from the prompt alone (generation prompt for conversations),
// completion ids as tokenize(prompt + completion) minus the prompt's length (tokenize_fn), a count where those
// prefixes disagree, and rows whose prompt alone fills max_length dropped. Ids stay untruncated: KTO's collator
// (DataCollatorForUnpairedPreference) keeps the first max_length tokens of prompt + completion.
import { AlignkitError } from '../../errors.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { Turn } from '../extract-prompt.js';
import type { UnpairedExample } from './unpaired-rows.js';

export interface UnpairedIds {
  prompt_ids: number[];
  completion_ids: number[];
  label: boolean;
}

export interface UnpairedTokenizeOptions {
  max_length: number | null;
  /** Pre-1.0 TRL: the prompt keeps its last max_prompt_length tokens. */
  max_prompt_length?: number | null;
  /** Pre-1.0 TRL: the completion keeps its first max_completion_length tokens. */
  max_completion_length?: number | null;
}

export interface UnpairedTokenizeStats {
  /** Rows dropped because the prompt alone fills max_length. */
  dropped: number;
  /** Rows where tokenize(prompt) is not a prefix of tokenize(prompt + completion): TRL only warns. */
  prefixMismatches: number;
}

/** The two texts TRL tokenizes for an example: the prompt, and the prompt followed by the completion. */
function render(ex: UnpairedExample, tokenizer: Tokenizer): [string, string] {
  if (!ex.conversational) {
    const completion = ex.completion as string;
    const eos = tokenizer.eosToken;
    return [ex.prompt as string, ex.prompt + (completion.endsWith(eos) ? completion : completion + eos)];
  }
  const kwargs = { tools: ex.tools, ...ex.chatTemplateKwargs };
  const prompt = ex.prompt as Turn[];
  try {
    return [
      tokenizer.applyChatTemplate(prompt, { ...kwargs, addGenerationPrompt: true }),
      tokenizer.applyChatTemplate([...prompt, ...(ex.completion as Turn[])], kwargs),
    ];
  } catch (err) {
    // The template's own message ("chat template: ...") with the row it failed on.
    if (err instanceof AlignkitError)
      throw new AlignkitError(err.code, `${ex.at.file}: row ${ex.at.row}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** [prompt ids, prompt + completion ids] of each example, text and conversations each in one encodeBatch call. */
async function encodePairs(examples: UnpairedExample[], tokenizer: Tokenizer): Promise<[number[], number[]][]> {
  const out: [number[], number[]][] = new Array(examples.length);
  for (const conversational of [false, true]) {
    const members = examples.flatMap((ex, i) => (ex.conversational === conversational ? [i] : []));
    if (members.length === 0) continue;
    // Plain text gets the tokenizer's special tokens (e.g. BOS), as tokenizer(text) does; a rendered chat template
    // already holds them, and transformers' apply_chat_template(tokenize=True) adds none.
    const ids = await tokenizer.encodeBatch(
      members.flatMap((i) => render(examples[i]!, tokenizer)),
      { addSpecialTokens: !conversational },
    );
    members.forEach((i, k) => (out[i] = [ids[2 * k]!, ids[2 * k + 1]!]));
  }
  return out;
}

/** Tokenizes a batch of examples; rows TRL would drop are left out and counted in `stats`. */
export async function tokenizeUnpaired(
  examples: UnpairedExample[],
  tokenizer: Tokenizer,
  options: UnpairedTokenizeOptions,
  stats: UnpairedTokenizeStats,
): Promise<UnpairedIds[]> {
  const pairs = await encodePairs(examples, tokenizer);
  const kept: UnpairedIds[] = [];
  pairs.forEach(([promptIds, full], i) => {
    if (!promptIds.every((id, t) => full[t] === id)) stats.prefixMismatches++;
    let completion = full.slice(promptIds.length);
    let prompt = promptIds;
    if (options.max_prompt_length) prompt = prompt.slice(-options.max_prompt_length);
    if (options.max_completion_length) completion = completion.slice(0, options.max_completion_length);
    if (options.max_length !== null && prompt.length >= options.max_length) stats.dropped++;
    else kept.push({ prompt_ids: prompt, completion_ids: completion, label: examples[i]!.label });
  });
  return kept;
}

/**
 * TRL's add_kl_completion_ids on one batch: the KL term pairs each prompt with the completion of the row before
 * it, the first with the last, (x_1, y_n), (x_2, y_1), ..., (x_n, y_{n-1}).
 */
export function klCompletions(batch: UnpairedIds[]): number[][] {
  return batch.map((_, i) => batch.at(i - 1)!.completion_ids);
}
