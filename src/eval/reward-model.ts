// A sequence-classification reward model (LlamaForSequenceClassification & co., one label) as a judge: the score
// of prompt + completion at the last token that is not the pad id, as transformers pools it. A text prompt is scored on
// tokenizer(prompt + completion); a conversation on the chat template of the prompt's messages plus the
// completion as the assistant's turn (tokenized as apply_chat_template does), each with the reward model's own
// tokenizer and template.
import { AlignkitError } from '../errors.js';
import type { Model } from '../model.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { Prompt } from '../generate/generate.js';

function tokenize(tokenizer: Tokenizer, prompt: Prompt, completion: string): Promise<number[]> {
  if (typeof prompt === 'string') return tokenizer.encode(prompt + completion);
  return tokenizer.applyChatTemplateIds([...prompt, { role: 'assistant', content: completion }]);
}

/** One score per (prompt, completion): the reward model's first logit at the row's last token. */
export async function rewardScores(
  model: Model,
  tokenizer: Tokenizer,
  prompts: Prompt[],
  completions: string[],
): Promise<number[]> {
  const labels = model.config.numLabels;
  if (labels < 1) {
    throw new AlignkitError(
      'ERR_INVALID_MODEL',
      `reward_model: ${model.config.sourceDir} is not a sequence-classification model (its config.json names no *ForSequenceClassification architecture)`,
    );
  }
  const rows = await Promise.all(prompts.map((p, i) => tokenize(tokenizer, p, completions[i]!)));
  const width = Math.max(...rows.map((r) => r.length));
  const pad = tokenizer.padTokenId ?? tokenizer.eosTokenId;
  const ids = rows.map((r) => [...r, ...Array<number>(width - r.length).fill(pad)]);
  const mask = rows.map((r) => Array.from({ length: width }, (_, t) => Number(t < r.length)));
  const { data } = await model.logits(ids, mask);
  // transformers pools at the rightmost token that is not the pad id (so a text ending in EOS, when pad is EOS,
  // is scored at the token before it), and at position 0 when every token is the pad id.
  const pooled = (r: number[]) => {
    let t = r.length - 1;
    while (t > 0 && r[t] === pad) t--;
    return t;
  };
  return rows.map((r, b) => data[(b * width + pooled(r)) * labels]!);
}
