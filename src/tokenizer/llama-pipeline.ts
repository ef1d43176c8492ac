// transformers 5 loads `tokenizer_class: LlamaTokenizer` folders with its LlamaTokenizer class, which keeps only
// the vocabulary, merges and post-processor of tokenizer.json and builds the rest itself
// (models/llama/tokenization_llama.py). Hub files converted in the legacy way (a Prepend/Replace normalizer)
// then tokenize differently from tokenizer.json alone, e.g. no "▁" before text that follows a special token.
import type { Json, TokenizerFolder } from './folder.js';

/**
 * Whether AutoTokenizer (transformers 5.18) picks LlamaTokenizer: the folder names it, and config.json's model
 * type has no tokenizer class of its own registered (mistral, mixtral, qwen2... map to TokenizersBackend).
 * Byte-level folders that call themselves LlamaTokenizer (deepseek-r1-distill-llama...) keep tokenizer.json, as
 * transformers does for the hub ids it knows: a Metaspace rebuild of a byte-level vocabulary would be garbage.
 */
export function usesLlamaTokenizer(folder: TokenizerFolder): boolean {
  const name = folder.config.tokenizer_class;
  const isLlama = name === 'LlamaTokenizer' || name === 'LlamaTokenizerFast';
  const { model, pre_tokenizer, decoder } = folder.tokenizer;
  const byteLevel = JSON.stringify([pre_tokenizer, decoder]).includes('"ByteLevel"');
  const llamaModel = folder.modelType === undefined || folder.modelType === 'llama';
  return isLlama && llamaModel && !byteLevel && (model as Json | undefined)?.type === 'BPE';
}

/** tokenizer.json as LlamaTokenizer rebuilds it; its added tokens are re-added afterwards, as transformers does. */
export function llamaPipeline(tokenizer: Json, config: Json): Json {
  const addPrefixSpace = typeof config.add_prefix_space === 'boolean' ? config.add_prefix_space : true;
  // _get_prepend_scheme: "first" unless the config asks for the legacy behaviour
  const prependScheme = !addPrefixSpace ? 'never' : config.legacy ? 'always' : 'first';
  const model = tokenizer.model as Json;
  const decoders: Json[] = [
    { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
  ];
  if (addPrefixSpace) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
  return {
    ...tokenizer,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: prependScheme, split: false },
    decoder: { type: 'Sequence', decoders },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: model.vocab,
      merges: model.merges,
    },
  };
}
