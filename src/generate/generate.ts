// Text generation: prompts (text or chat messages) through the tokenizer and chat template, a batched native
// generation, and the completions decoded and cut at stop strings.
import { AlignkitError } from '../errors.js';
import type { NativeModel } from '../native.js';
import type { Message } from '../tokenizer/chat-template.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { readGenerationDefaults, type GenerationDefaults } from './generation-config.js';
import { resolveOptions, type GenerateOptions, type TokenGenerateOptions } from './options.js';
import { findStop, type StopPoint } from './stop-strings.js';
import { generateTokens, type FinishReason, type TokenGeneration } from './token-generation.js';

/** A text prompt (tokenized as `tokenizer(text)`, special tokens added) or a conversation to answer. */
export type Prompt = string | Message[];

/** One prompt's completion. */
export interface Generation {
  /** The completion's text: without the EOS token that ended it, cut before a stop string. */
  text: string;
  /** The new tokens, as transformers returns them: through the EOS token or the token that completes a stop string. */
  tokenIds: number[];
  /** `eos`: an EOS token ended it; `stop`: a stop string did; `length`: max_new_tokens did. */
  finishReason: FinishReason;
}

// Read once per model: the folder does not change under a loaded model.
const defaultsOf = new WeakMap<NativeModel, Promise<GenerationDefaults>>();
const tokenizerOf = new WeakMap<NativeModel, Promise<Tokenizer>>();

function generationDefaults(model: NativeModel): Promise<GenerationDefaults> {
  let defaults = defaultsOf.get(model);
  if (!defaults) {
    defaults = readGenerationDefaults(model.config().sourceDir);
    defaultsOf.set(model, defaults);
    defaults.catch(() => defaultsOf.delete(model));
  }
  return defaults;
}

function folderTokenizer(model: NativeModel): Promise<Tokenizer> {
  let tokenizer = tokenizerOf.get(model);
  if (!tokenizer) {
    const dir = model.config().sourceDir;
    tokenizer = Tokenizer.load(dir).catch((err: AlignkitError) => {
      tokenizerOf.delete(model);
      const message = `generate: the model folder ${dir} has no usable tokenizer; pass options.tokenizer (${err.message})`;
      throw new AlignkitError(err.code, message, { cause: err });
    });
    tokenizerOf.set(model, tokenizer);
  }
  return tokenizer;
}

/** Whether `input` is a batch of prompts rather than one (a conversation is an array of message objects). */
function isBatch(input: Prompt | Prompt[]): input is Prompt[] {
  if (!Array.isArray(input)) return false;
  if (input.length === 0) {
    const message = 'generate: input is an empty array; pass a string, a Message[] or an array of those';
    throw new AlignkitError('ERR_INVALID_ARG', message);
  }
  return typeof input[0] === 'string' || Array.isArray(input[0]);
}

async function encodePrompt(tokenizer: Tokenizer, prompt: Prompt, index: number, options: GenerateOptions) {
  if (typeof prompt === 'string') return tokenizer.encode(prompt);
  if (
    !Array.isArray(prompt) ||
    !prompt.every((m) => typeof m === 'object' && m !== null && typeof m.role === 'string')
  ) {
    const message = `generate: prompt ${index} must be a string or an array of { role, content } messages`;
    throw new AlignkitError('ERR_INVALID_ARG', message);
  }
  return tokenizer.applyChatTemplateIds(prompt, { ...options.chat_template_kwargs, addGenerationPrompt: true });
}

/**
 * @internal Continues one prompt, or a batch of them (left padded, one forward per step), with the model `model` holds. A chat
 * prompt (Message[]) gets the tokenizer's chat template with the assistant header appended (add_generation_prompt).
 */
export async function generateText(
  model: NativeModel,
  input: Prompt | Prompt[],
  options: GenerateOptions = {},
): Promise<Generation | Generation[]> {
  const batch = isBatch(input);
  const prompts = batch ? input : [input];
  const stops = options.stop ?? [];
  if (!Array.isArray(stops) || !stops.every((s) => typeof s === 'string' && s.length > 0)) {
    const message = `generate: options.stop must be an array of non-empty strings, got ${JSON.stringify(stops)}`;
    throw new AlignkitError('ERR_INVALID_ARG', message);
  }
  const tokenizer = options.tokenizer ?? (await folderTokenizer(model));
  const resolved = resolveOptions(
    options,
    await generationDefaults(model),
    model.config().vocabSize,
    tokenizer.eosTokenId,
  );
  const ids = await Promise.all(prompts.map((p, i) => encodePrompt(tokenizer, p, i, options)));
  const skipSpecialTokens = options.skip_special_tokens ?? true;
  const decode = (tokens: number[]) => tokenizer.decode(tokens, { skipSpecialTokens });

  const stopPoints = new Map<number, StopPoint>();
  const stopCheck = async (row: number, tokens: readonly number[], checked: number) => {
    const point = await findStop(tokens, checked, stops, decode);
    if (point) stopPoints.set(row, point);
    return point?.tokens;
  };
  const rows = await generateTokens(model, ids, resolved, options.signal, stops.length ? stopCheck : undefined);
  const out = await Promise.all(
    rows.map(async ({ tokenIds, finishReason }, r): Promise<Generation> => {
      if (finishReason === 'stop') return { text: stopPoints.get(r)!.text, tokenIds, finishReason };
      const text = await decode(finishReason === 'eos' ? tokenIds.slice(0, -1) : tokenIds);
      return { text, tokenIds, finishReason };
    }),
  );
  return batch ? out : out[0]!;
}

/**
 * @internal Continues prompts given as token ids (no tokenizer, no chat template), in one left-padded batch. Greedy output
 * equals transformers' `generate(input_ids, attention_mask, do_sample=False)` token for token.
 */
export async function generateFromTokenIds(
  model: NativeModel,
  prompts: number[][],
  options: TokenGenerateOptions = {},
): Promise<TokenGeneration[]> {
  const resolved = resolveOptions(options, await generationDefaults(model), model.config().vocabSize);
  return generateTokens(model, prompts, resolved, options.signal);
}
