// Tokenization identical to TRL 1.13's DPOTrainer._prepare_dataset: EOS text appended to plain-text
// completions, prompt ids from the prompt alone (generation prompt for conversations), completion ids as
// tokenize(prompt + completion) minus the prompt's length, a warning count when those prefixes disagree,
// and rows whose prompt fills max_length dropped under keep_start. Ids stay untruncated: the collator cuts.
import { AlignkitError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { Turn } from './extract-prompt.js';
import type { PreferenceExample } from './preference-rows.js';

export interface PreferenceIds {
  prompt_ids: number[];
  chosen_ids: number[];
  rejected_ids: number[];
}

export interface PreferenceTokenizeOptions {
  max_length: number | null;
  truncation_mode: 'keep_start' | 'keep_end';
  /** Pre-1.0 TRL: the prompt keeps its last max_prompt_length tokens. */
  max_prompt_length?: number | null;
  /** Pre-1.0 TRL: each completion keeps its first max_completion_length tokens. */
  max_completion_length?: number | null;
}

export interface PreferenceTokenizeStats {
  /** Rows dropped because the prompt alone fills max_length (keep_start). */
  dropped: number;
  /** Rows where tokenize(prompt) is not a prefix of tokenize(prompt + completion): TRL only warns. */
  prefixMismatches: number;
}

const isPrefix = (prefix: number[], of: number[]) => prefix.every((id, i) => of[i] === id);

/** Renders each example's three texts (prompt, prompt+chosen, prompt+rejected) and tokenizes them. */
async function encodeTriples(examples: PreferenceExample[], tokenizer: Tokenizer): Promise<number[][][]> {
  const texts: string[] = [];
  for (const ex of examples) {
    if (ex.conversational) {
      const kwargs = { tools: ex.tools, ...ex.chatTemplateKwargs };
      const prompt = ex.prompt as Turn[];
      try {
        texts.push(
          tokenizer.applyChatTemplate(prompt, { ...kwargs, addGenerationPrompt: true }),
          tokenizer.applyChatTemplate([...prompt, ...(ex.chosen as Turn[])], kwargs),
          tokenizer.applyChatTemplate([...prompt, ...(ex.rejected as Turn[])], kwargs),
        );
      } catch (err) {
        // The template's own message ("chat template: ...") with the row it failed on.
        if (err instanceof AlignkitError)
          throw new AlignkitError(err.code, `${ex.at.file}: row ${ex.at.row}: ${err.message}`, { cause: err });
        throw err;
      }
    } else {
      const eos = tokenizer.eosToken;
      const withEos = (s: string) => (s.endsWith(eos) ? s : s + eos);
      const prompt = ex.prompt as string;
      texts.push(prompt, prompt + withEos(ex.chosen as string), prompt + withEos(ex.rejected as string));
    }
  }
  // Plain text gets the tokenizer's special tokens (e.g. BOS), as tokenizer(text) does; a rendered chat
  // template already holds them, and transformers' apply_chat_template(tokenize=True) adds none.
  const special = examples.flatMap((ex) => [!ex.conversational, !ex.conversational, !ex.conversational]);
  const withSpecial = (
    await tokenizer.encodeBatch(
      texts.filter((_, i) => special[i]),
      { addSpecialTokens: true },
    )
  )[Symbol.iterator]();
  const withoutSpecial = (
    await tokenizer.encodeBatch(
      texts.filter((_, i) => !special[i]),
      { addSpecialTokens: false },
    )
  )[Symbol.iterator]();
  const ids = special.map((s) => (s ? withSpecial : withoutSpecial).next().value as number[]);
  return examples.map((_, e) => ids.slice(3 * e, 3 * e + 3));
}

/** Tokenizes a batch of examples; rows TRL would drop are left out and counted in `stats`. */
export async function tokenizePreferences(
  examples: PreferenceExample[],
  tokenizer: Tokenizer,
  options: PreferenceTokenizeOptions,
  stats: PreferenceTokenizeStats,
): Promise<(PreferenceIds | null)[]> {
  const triples = await encodeTriples(examples, tokenizer);
  return triples.map(([promptIds, promptChosen, promptRejected]) => {
    if (!isPrefix(promptIds!, promptChosen!) || !isPrefix(promptIds!, promptRejected!)) stats.prefixMismatches++;
    let prompt = promptIds!;
    let chosen = promptChosen!.slice(prompt.length);
    let rejected = promptRejected!.slice(prompt.length);
    if (options.max_prompt_length) prompt = prompt.slice(-options.max_prompt_length);
    if (options.max_completion_length) {
      chosen = chosen.slice(0, options.max_completion_length);
      rejected = rejected.slice(0, options.max_completion_length);
    }
    if (
      options.max_length !== null &&
      options.truncation_mode === 'keep_start' &&
      prompt.length >= options.max_length
    ) {
      stats.dropped++;
      return null;
    }
    return { prompt_ids: prompt, chosen_ids: chosen, rejected_ids: rejected };
  });
}
