// Drives a native generation (native/generate/generation.h) over a batch of prompt token ids: left pads them,
// steps in chunks, gathers each row's tokens until its EOS, a stop point or max_new_tokens.
import { AlignkitError, fromNative } from '../errors.js';
import { native, type NativeModel } from '../native.js';
import type { ResolvedOptions } from './options.js';

export type FinishReason = 'eos' | 'stop' | 'length';

/** One prompt's continuation as token ids. */
export interface TokenGeneration {
  /** The new tokens, ending with the EOS token when finishReason is `eos`. */
  tokenIds: number[];
  /** `eos`: an EOS token ended it; `stop`: a stop string did; `length`: max_new_tokens did. */
  finishReason: FinishReason;
  /** With output_logits: (tokenIds.length, vocab) raw float32 logits each token was chosen from. */
  logits?: Float32Array;
}

/**
 * @internal Called after each chunk for each row still going, with all its tokens so far and how many of them earlier calls
 * saw; returns how many tokens to keep when the row stops there (a stop string), else undefined.
 */
export type StopCheck = (row: number, tokens: readonly number[], checked: number) => Promise<number | undefined>;

/** Steps per native call when something must look at the tokens in between; otherwise one call does it all. */
const CHUNK_STEPS = 16;

interface Row {
  tokens: number[];
  logits: Float32Array[];
  finish?: FinishReason;
}

/** Left pads `prompts` with `pad` as tokenizer(padding_side="left") does; the mask is null without padding. */
function leftPad(prompts: readonly number[][], pad: number) {
  const width = Math.max(...prompts.map((p) => p.length));
  const ids = new Int32Array(prompts.length * width).fill(pad);
  const mask = new Uint8Array(prompts.length * width);
  prompts.forEach((p, r) => {
    ids.set(p, r * width + width - p.length);
    mask.fill(1, r * width + width - p.length, (r + 1) * width);
  });
  return { ids, mask: prompts.every((p) => p.length === width) ? null : mask, width };
}

function checkPrompts(prompts: readonly number[][], vocabSize: number): void {
  if (prompts.length === 0) throw new AlignkitError('ERR_INVALID_ARG', 'generate: no prompts given');
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new AlignkitError('ERR_INVALID_ARG', `generate: prompt ${i} has no tokens`);
    const bad = p.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) {
      const message = `generate: prompt ${i} holds token id ${bad} outside the vocabulary [0, ${vocabSize})`;
      throw new AlignkitError('ERR_INVALID_ARG', message);
    }
  });
}

/** @internal Generates for every prompt in one left-padded batch. */
export async function generateTokens(
  model: NativeModel,
  prompts: readonly number[][],
  options: ResolvedOptions,
  signal?: AbortSignal,
  stopCheck?: StopCheck,
): Promise<TokenGeneration[]> {
  const { vocabSize: vocab, numLabels, sourceDir } = model.config();
  if (numLabels > 0)
    throw new AlignkitError(
      'ERR_INVALID_ARG',
      `generate: ${sourceDir} is a sequence-classification model; it scores text, it cannot generate it`,
    );
  checkPrompts(prompts, vocab);
  signal?.throwIfAborted();
  const { ids, mask, width } = leftPad(prompts, options.pad_token_id);
  const generation = await native()
    .NativeGeneration.start(model, ids, mask, prompts.length, width, {
      ...options,
      eos_token_id: Int32Array.from(options.eos_token_id),
    })
    .catch(fromNative);
  const eos = new Set(options.eos_token_id);
  const rows: Row[] = prompts.map(() => ({ tokens: [], logits: [] }));
  const chunkSteps = stopCheck || signal ? CHUNK_STEPS : options.max_new_tokens;
  try {
    let stopRows: number[] = [];
    for (let done = false; !done;) {
      signal?.throwIfAborted();
      const stopped = stopRows.length ? Int32Array.from(stopRows) : null;
      const chunk = await generation.step(chunkSteps, stopped).catch(fromNative);
      stopRows = [];
      for (const [r, row] of rows.entries()) {
        if (row.finish) continue;
        const checked = row.tokens.length;
        for (let s = 0; s < chunk.steps && !row.finish; s++) {
          const token = chunk.tokens[r * chunk.steps + s]!;
          row.tokens.push(token);
          const at = (s * rows.length + r) * vocab; // logits are (steps, batch, vocab)
          if (chunk.logits) row.logits.push(chunk.logits.subarray(at, at + vocab));
          if (eos.has(token)) row.finish = 'eos';
        }
        const keep = await stopCheck?.(r, row.tokens, checked);
        if (keep !== undefined) {
          row.tokens.length = keep;
          row.logits.length = Math.min(row.logits.length, keep);
          row.finish = 'stop';
          stopRows.push(r);
        }
      }
      done = chunk.done || rows.every((row) => row.finish);
    }
  } finally {
    await generation.dispose().catch(fromNative);
  }
  return rows.map((row) => ({
    tokenIds: row.tokens,
    finishReason: row.finish ?? 'length',
    ...(options.output_logits && { logits: concat(row.logits, vocab) }),
  }));
}

function concat(parts: Float32Array[], width: number): Float32Array {
  const out = new Float32Array(parts.length * width);
  parts.forEach((p, i) => out.set(p, i * width));
  return out;
}
