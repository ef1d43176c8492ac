// Tokenization identical to TRL 1.13's experimental BCOTrainer (trl/experimental/bco/bco_trainer.py: _tokenize,
// then _process_tokens), which differs from KTO's: conversations are rendered to text first
// (maybe_apply_chat_template: the completion is what follows the prompt's common prefix), prompt and prompt +
// completion are tokenized without special tokens, the answer is what follows the prompt (one token earlier when
// the last prompt token merged into the completion), a BOS is prepended unless the prompt starts with one and an EOS
// appended unless the answer ends with one, and the answer (never the prompt) is cut so the row fits max_length.
// The ids stored are final: BCO's collator (DPODataCollatorWithPadding) only pads.
import { AlignkitError } from '../../errors.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { Turn } from '../extract-prompt.js';
import { dataError } from '../row-context.js';
import type { UnpairedIds } from './tokenize-unpaired.js';
import type { UnpairedExample } from './unpaired-rows.js';

/** maybe_apply_chat_template on an unpaired row: [prompt text, prompt + completion text]. */
function render(ex: UnpairedExample, tokenizer: Tokenizer): [string, string] {
  if (!ex.conversational) return [ex.prompt as string, (ex.prompt as string) + (ex.completion as string)];
  const kwargs = { tools: ex.tools, ...ex.chatTemplateKwargs };
  const turns = ex.prompt as Turn[];
  try {
    const prompt = tokenizer.applyChatTemplate(turns, { ...kwargs, addGenerationPrompt: true });
    const full = tokenizer.applyChatTemplate([...turns, ...(ex.completion as Turn[])], kwargs);
    // TRL keeps the prompt's common prefix with the full text (templates that insert tokens at the generation prompt).
    let shared = 0;
    while (shared < prompt.length && prompt[shared] === full[shared]) shared++;
    return [prompt.slice(0, shared), full];
  } catch (err) {
    if (err instanceof AlignkitError)
      throw new AlignkitError(err.code, `${ex.at.file}: row ${ex.at.row}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Python's list[:stop] for any integer stop (a negative one counts from the end). */
const head = (ids: number[], stop: number) => ids.slice(0, stop < 0 ? Math.max(ids.length + stop, 0) : stop);

/** _tokenize and _process_tokens on a batch of examples: prompt_ids (BOS included) and completion_ids (EOS included). */
export async function tokenizeBco(
  examples: UnpairedExample[],
  tokenizer: Tokenizer,
  options: { max_length: number | null },
  stats: { prefixMismatches: number },
): Promise<UnpairedIds[]> {
  const texts = examples.flatMap((ex) => render(ex, tokenizer));
  const ids = await tokenizer.encodeBatch(texts, { addSpecialTokens: false });
  // BCOTrainer.__init__: max_length None means 512.
  const maxLength = options.max_length ?? 512;
  const bos = tokenizer.bosTokenId;
  const eos = tokenizer.eosTokenId;
  return examples.map((ex, i) => {
    const promptIds = ids[2 * i]!;
    const full = ids[2 * i + 1]!;
    // The prompt's last token merged with the completion's first: the answer starts one token earlier.
    let start = promptIds.length;
    if (!promptIds.every((id, t) => full[t] === id)) {
      stats.prefixMismatches++;
      start--;
    }
    let prompt = full.slice(0, start);
    let answer = full.slice(start);
    if (prompt.length === 0)
      throw dataError(ex.at, 'prompt', 'the prompt has no tokens (BCO needs one to read its BOS)');
    // max_length less one for each special token _process_tokens will add (a tokenizer without BOS counts one too).
    let budget = maxLength;
    if (bos !== prompt[0]) budget--;
    if (eos !== answer.at(-1)) budget--;
    if (prompt.length + answer.length > budget) answer = head(answer, budget - prompt.length);
    if (bos !== undefined && bos !== prompt[0]) prompt = [bos, ...prompt];
    if (answer.length === 0 || eos !== answer.at(-1)) answer = [...answer, eos];
    return { prompt_ids: prompt, completion_ids: answer, label: ex.label };
  });
}
