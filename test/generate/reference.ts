// test/fixtures/reference/generation.json, written by scripts/fixtures/make_generation.py from transformers 5.18.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '../helpers/fixtures.js';

/** One generate() call on a left-padded batch: new_tokens per row as returned (finished rows padded). */
export interface GenerateRef {
  prompts: number[][];
  max_new_tokens: number;
  eos_token_id: number[] | null;
  new_tokens: number[][];
}

export interface SamplingRef extends GenerateRef {
  model: string;
  seed: number;
  do_sample: true;
  temperature?: number;
  top_k?: number;
  top_p?: number;
}

export interface StopRef {
  prompt: string;
  stop: string[];
  /** The stop string crosses a token boundary; else it lies inside one token whose text goes on after it. */
  spans_tokens: boolean;
  max_new_tokens: number;
  new_tokens: number[];
  text: string;
}

/** Warper outputs; null stands for -inf. */
export interface WarpersRef {
  logits: (number | null)[][];
  cases: { options: { temperature?: number; top_k?: number; top_p?: number }; scores: (number | null)[][] }[];
}

export const reference = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'generation.json'), 'utf8')) as {
  greedy: Record<string, GenerateRef[]>;
  sampling: SamplingRef[];
  stop: StopRef[];
  warpers: WarpersRef;
};

/** A row as our API returns it: transformers' row up to and including its first EOS token. */
export function untilEos(row: number[], eos: readonly number[]): number[] {
  const at = row.findIndex((t) => eos.includes(t));
  return at === -1 ? row : row.slice(0, at + 1);
}

/** The fixture models' generation_config.json eos_token_id. */
export const FIXTURE_EOS = 1;
