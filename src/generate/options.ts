// generate()'s options under their transformers GenerationConfig names, and how they are settled: the caller's
// value, else the model folder's generation_config.json, else transformers' default (max_new_tokens excepted).
import { randomInt } from 'node:crypto';
import { AlignkitError } from '../errors.js';
import type { ChatTemplateOptions } from '../tokenizer/chat-template.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { NativeGenerationOptions } from '../native.js';
import type { GenerationDefaults } from './generation-config.js';

/** The max_new_tokens used when neither the call nor generation_config.json sets one. */
export const DEFAULT_MAX_NEW_TOKENS = 256;

/**
 * How tokens are chosen, as transformers' `generate()` reads GenerationConfig. Unset fields come from the model
 * folder's generation_config.json, then from transformers' defaults.
 */
export interface SamplingOptions {
  /**
   * Sample each token from the warped distribution instead of taking the most likely one (greedy, which equals
   * transformers' `generate(do_sample=False)` token for token). Default: generation_config.json's, else false.
   */
  do_sample?: boolean;
  /** With do_sample: divides the logits (TemperatureLogitsWarper); > 0. Default: generation_config.json's, else 1. */
  temperature?: number;
  /**
   * With do_sample: keeps the top_k most likely tokens and their ties (TopKLogitsWarper); 0 keeps all.
   * Default: generation_config.json's, else 50, as transformers.
   */
  top_k?: number;
  /**
   * With do_sample: keeps the smallest set of most likely tokens whose probability reaches top_p (TopPLogitsWarper),
   * applied after temperature and top_k; in [0, 1]. Default: generation_config.json's, else 1 (off).
   */
  top_p?: number;
  /**
   * Seeds the generator the samples are drawn from: the same seed, prompts and options give the same tokens (on the
   * CPU they are those of `torch.manual_seed(seed); model.generate(...)`). Default: a random seed.
   */
  seed?: number;
}

/** Options of {@link Model.generateTokenIds}: token ids in, token ids out, no tokenizer involved. */
export interface TokenGenerateOptions extends SamplingOptions {
  /** Most tokens added per prompt. Default: generation_config.json's, else 256. */
  max_new_tokens?: number;
  /**
   * Token id(s) that end a sequence (included in its tokenIds). Default: generation_config.json's eos_token_id
   * (config.json's without one); {@link Model.generate} adds the tokenizer's eos token.
   */
  eos_token_id?: number | number[];
  /** Also return the raw float32 logits each new token was chosen from. Default false. */
  output_logits?: boolean;
  /** Stops generating between chunks of steps; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of {@link Model.generate}. */
export interface GenerateOptions extends Omit<TokenGenerateOptions, 'output_logits'> {
  /**
   * Strings that end a completion: it stops at the token that completes one (a string may span several tokens)
   * and its text is cut before it. Matched in the generated text only, not across the prompt. Default none.
   */
  stop?: string[];
  /** Default: the tokenizer of the folder the model was loaded from, loaded once per model. */
  tokenizer?: Tokenizer;
  /** Extra chat template variables for Message[] prompts, e.g. `{ enable_thinking: false }`. */
  chat_template_kwargs?: Omit<ChatTemplateOptions, 'addGenerationPrompt' | 'continueFinalMessage'>;
  /** Leave special tokens out of `text`, as TRL and vLLM decode completions. Default true. */
  skip_special_tokens?: boolean;
}

/** @internal Every option settled, as the native generation takes them (the EOS ids still a plain array). */
export type ResolvedOptions = Omit<NativeGenerationOptions, 'eos_token_id'> & { eos_token_id: number[] };

const invalid = (key: string, expected: string, value: unknown) =>
  new AlignkitError('ERR_INVALID_ARG', `generate: options.${key} must be ${expected}, got ${JSON.stringify(value)}`);

function check<T>(key: string, value: T | undefined, expected: string, ok: (v: T) => boolean): T | undefined {
  if (value !== undefined && !ok(value)) throw invalid(key, expected, value);
  return value;
}

const isInteger =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (v: number) =>
    Number.isInteger(v) && v >= min && v <= max;

/**
 * @internal Settles `options` over the folder's `defaults`. `extraEos` (the tokenizer's eos token) joins the default eos ids;
 * an explicit eos_token_id replaces both. Sampling fields are checked only with do_sample, as transformers builds
 * its warpers only then.
 */
export function resolveOptions(
  options: TokenGenerateOptions,
  defaults: GenerationDefaults,
  vocabSize: number,
  extraEos?: number,
): ResolvedOptions {
  const tokenId = isInteger(0, vocabSize - 1);
  const maxNew = check('max_new_tokens', options.max_new_tokens, 'an integer >= 1', isInteger(1));
  const doSample = check('do_sample', options.do_sample, 'a boolean', (v) => typeof v === 'boolean');
  const sampling = doSample ?? defaults.do_sample ?? false;
  const ifSampling = <T>(key: string, value: T | undefined, expected: string, ok: (v: T) => boolean) =>
    sampling ? check(key, value, expected, ok) : value;
  const temperature = ifSampling(
    'temperature',
    options.temperature,
    'a number > 0',
    (v) => Number.isFinite(v) && v > 0,
  );
  const topK = ifSampling('top_k', options.top_k, 'an integer >= 0 (0 keeps all tokens)', isInteger(0));
  const topP = ifSampling('top_p', options.top_p, 'a number in [0, 1]', (v) => v >= 0 && v <= 1);
  const seed = check('seed', options.seed, 'an integer in [0, 2^53)', isInteger(0));

  let eos: number[];
  if (options.eos_token_id !== undefined) {
    eos = [options.eos_token_id].flat();
    if (!eos.every(tokenId)) throw invalid('eos_token_id', `token ids in [0, ${vocabSize})`, options.eos_token_id);
  } else {
    eos = [...new Set([...defaults.eos_token_id, ...(extraEos === undefined ? [] : [extraEos])])];
  }
  // transformers pads finished rows with eos_token_id[0] when there is no pad_token_id
  const pad = defaults.pad_token_id ?? eos[0] ?? 0;
  return {
    max_new_tokens: maxNew ?? defaults.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS,
    do_sample: sampling,
    temperature: temperature ?? defaults.temperature ?? 1,
    top_k: topK ?? defaults.top_k ?? 50,
    top_p: topP ?? defaults.top_p ?? 1,
    seed: seed ?? randomInt(2 ** 48 - 1),
    eos_token_id: eos,
    pad_token_id: pad < vocabSize ? pad : 0, // any id in the vocabulary pads: it is never read back
    output_logits: options.output_logits ?? false,
  };
}
