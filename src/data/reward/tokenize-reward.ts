// Tokenization identical to TRL 1.13's RewardTrainer._prepare_dataset: plain text gets the EOS text appended to
// chosen and rejected (unless they end with it) and tokenizer(prompt + completion) with its special tokens; a
// conversation is apply_chat_template(prompt + completion, tools, chat_template_kwargs) tokenized, with no
// generation prompt and no added special tokens. Pairs with a side longer than max_length are dropped, not cut.
import { AlignkitError } from '../../errors.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { Turn } from '../extract-prompt.js';
import type { RewardExample } from './reward-rows.js';

export interface RewardIds {
  chosen_ids: number[];
  rejected_ids: number[];
  margin?: number;
}

export interface RewardTokenizeOptions {
  max_length: number | null;
  /** The EOS text appended to plain-text completions (RewardConfig's eos_token, else the tokenizer's). */
  eosToken: string;
}

function render(ex: RewardExample, tokenizer: Tokenizer, eos: string): [string, string] {
  if (!ex.conversational) {
    const withEos = (s: string) => (s.endsWith(eos) ? s : s + eos);
    const prompt = ex.prompt as string;
    return [prompt + withEos(ex.chosen as string), prompt + withEos(ex.rejected as string)];
  }
  const kwargs = { tools: ex.tools, ...ex.chatTemplateKwargs };
  const prompt = ex.prompt as Turn[];
  try {
    return [
      tokenizer.applyChatTemplate([...prompt, ...(ex.chosen as Turn[])], kwargs),
      tokenizer.applyChatTemplate([...prompt, ...(ex.rejected as Turn[])], kwargs),
    ];
  } catch (err) {
    if (err instanceof AlignkitError)
      throw new AlignkitError(err.code, `${ex.at.file}: row ${ex.at.row}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Tokenizes a batch of examples; pairs TRL's max_length filter drops are null and counted in `stats.dropped`. */
export async function tokenizeRewardPairs(
  examples: RewardExample[],
  tokenizer: Tokenizer,
  options: RewardTokenizeOptions,
  stats: { dropped: number },
): Promise<(RewardIds | null)[]> {
  const texts = examples.flatMap((ex) => render(ex, tokenizer, options.eosToken));
  const special = examples.flatMap((ex) => [!ex.conversational, !ex.conversational]);
  const encode = async (withSpecial: boolean) =>
    (
      await tokenizer.encodeBatch(
        texts.filter((_, i) => special[i] === withSpecial),
        { addSpecialTokens: withSpecial },
      )
    )[Symbol.iterator]();
  const [withSpecial, withoutSpecial] = [await encode(true), await encode(false)];
  const ids = special.map((s) => (s ? withSpecial : withoutSpecial).next().value as number[]);
  return examples.map((ex, e) => {
    const [chosen, rejected] = [ids[2 * e]!, ids[2 * e + 1]!];
    if (options.max_length !== null && (chosen.length > options.max_length || rejected.length > options.max_length)) {
      stats.dropped++;
      return null;
    }
    return { chosen_ids: chosen, rejected_ids: rejected, ...(ex.margin !== undefined && { margin: ex.margin }) };
  });
}
