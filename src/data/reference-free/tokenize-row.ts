// TRL 1.13's experimental ORPOTrainer / CPOTrainer tokenize_row (decoder-only), on the texts of render-text.ts:
// each side's ids are tokenize(prompt + completion) without special tokens, split where tokenize(prompt) ends
// (one token earlier when the tokenizer merged across the boundary: build_tokenized_answer); BOS is put before a
// prompt that does not start with it and EOS after a completion that does not end with it; when prompt + the
// longer completion exceeds max_length, both completions are cut to max_length − that longer length tokens, with
// Python's slice (a negative bound drops tokens from the end), as TRL 1.13 does. With pre-1.0 TRL's
// max_prompt_length the prompt first keeps its last max_prompt_length tokens and the completions their first
// max_length − max_prompt_length.
export interface ReferenceFreeIds {
  chosen_prompt_ids: number[];
  chosen_ids: number[];
  rejected_prompt_ids: number[];
  rejected_ids: number[];
}

export interface ReferenceFreeTokenizeOptions {
  maxLength: number;
  maxPromptLength: number | null;
  bosTokenId: number | undefined;
  eosTokenId: number;
}

interface Side {
  prompt: number[];
  answer: number[];
}

/** build_tokenized_answer: the prompt's ids within tokenize(prompt + answer), and the rest. */
function splitAnswer(promptIds: number[], full: number[]): Side | string {
  if (full.length < promptIds.length) return 'the prompt has more tokens alone than followed by its completion';
  let start = promptIds.length;
  if (promptIds.some((id, i) => full[i] !== id)) start -= 1;
  return { prompt: full.slice(0, start), answer: full.slice(start) };
}

/** Python's sequence[:end]: a negative end counts from the back. */
const head = (ids: number[], end: number) => ids.slice(0, end);

/** One row from the ids of prompt, prompt + chosen, prompt + rejected; a string says why TRL would raise. */
export function tokenizeRow(
  [promptIds, promptChosen, promptRejected]: [number[], number[], number[]],
  options: ReferenceFreeTokenizeOptions,
): ReferenceFreeIds | string {
  const chosen = splitAnswer(promptIds, promptChosen);
  const rejected = splitAnswer(promptIds, promptRejected);
  if (typeof chosen === 'string') return chosen;
  if (typeof rejected === 'string') return rejected;
  const diffTokens = chosen.prompt.filter((id, i) => i < rejected.prompt.length && id !== rejected.prompt[i]).length;
  if (diffTokens > 1 || Math.abs(chosen.prompt.length - rejected.prompt.length) > 1)
    return 'the chosen and rejected prompt ids differ by more than the last token (tokenizer merges across the prompt end)';
  const sides = [chosen, rejected];
  for (const side of sides) {
    const bos = options.bosTokenId;
    if (bos !== undefined && side.prompt[0] !== bos) side.prompt.unshift(bos);
    if (side.answer.at(-1) !== options.eosTokenId) side.answer.push(options.eosTokenId);
  }
  const longer = Math.max(chosen.answer.length, rejected.answer.length);
  const tooLong = (side: Side) => side.prompt.length + longer > options.maxLength;
  const { maxLength, maxPromptLength } = options;
  for (const side of sides) {
    if (maxPromptLength !== null && tooLong(side)) side.prompt = side.prompt.slice(-maxPromptLength);
  }
  for (const side of sides) {
    if (tooLong(side)) side.answer = head(side.answer, maxLength - (maxPromptLength ?? longer));
  }
  return {
    chosen_prompt_ids: chosen.prompt,
    chosen_ids: chosen.answer,
    rejected_prompt_ids: rejected.prompt,
    rejected_ids: rejected.answer,
  };
}
