// The token id preference batches are padded with, shared by the DPO recipe and preference evaluation.
import type { DpoConfig } from '../config/load-config.js';
import { configError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/index.js';

/** TRL: pad_token, else the tokenizer's pad token, else its eos token; it must be in the vocabulary. */
export function padTokenId(config: Pick<DpoConfig, 'pad_token'>, tokenizer: Tokenizer): number {
  if (config.pad_token === null) return tokenizer.padTokenId ?? tokenizer.eosTokenId;
  const id = tokenizer.tokenToId(config.pad_token);
  if (id === undefined) throw configError(`pad_token '${config.pad_token}' is not in the tokenizer's vocabulary`);
  return id;
}
