// Special tokens as transformers 5.18 resolves them for a tokenizer.json folder
// (PreTrainedTokenizerBase._from_pretrained and TokenizersBackend.__init__).
import type { Json, TokenizerFolder } from './folder.js';

/** A token as `tokenizers`' AddedToken holds it. */
export interface TokenSpec {
  content: string;
  special: boolean;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
}

export interface SpecialTokens {
  /** bos/eos/unk/sep/pad/cls/mask, then model-specific `*_token`s (e.g. image_token): transformers' order. */
  named: Map<string, TokenSpec>;
  /** extra_special_tokens (additional_special_tokens before transformers 5). */
  extra: TokenSpec[];
  /** Added tokens the folder declares, by id: the config's added_tokens_decoder, else tokenizer.json's added_tokens. */
  declared: TokenSpec[];
}

const NAMED = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSpec = (v: unknown): v is TokenSpec => isObject(v) && 'singleWord' in v;
// {"__type": "AddedToken", ...} is how transformers serializes an AddedToken inside tokenizer_config.json
const isSerializedToken = (v: unknown): v is Json => isObject(v) && v.__type === 'AddedToken';

/** An AddedToken from its serialized fields; `normalized` defaults to `!special` as in `tokenizers`. */
function fromFields(fields: Json, special = fields.special === true): TokenSpec {
  return {
    content: String(fields.content),
    special,
    singleWord: fields.single_word === true,
    lstrip: fields.lstrip === true,
    rstrip: fields.rstrip === true,
    normalized: typeof fields.normalized === 'boolean' ? fields.normalized : !special,
  };
}

/** A special token given as a plain string: AddedToken(token, special=True). */
const fromString = (content: string): TokenSpec => fromFields({ content }, true);

function toSpec(value: unknown): TokenSpec | undefined {
  if (typeof value === 'string') return fromString(value);
  if (isSpec(value)) return value;
  return isObject(value) && typeof value.content === 'string' ? fromFields(value) : undefined;
}

/** The folder's special tokens, merged from tokenizer_config.json, special_tokens_map.json and tokenizer.json. */
export function resolveSpecialTokens(folder: TokenizerFolder): SpecialTokens {
  const init: Json = { ...folder.config };
  if ('additional_special_tokens' in init && !init.extra_special_tokens) {
    init.extra_special_tokens = init.additional_special_tokens;
    delete init.additional_special_tokens;
  }
  const modelSpecific = new Map<string, unknown>();
  for (const key of Object.keys(init)) {
    if (!NAMED.includes(key) && key.endsWith('_token') && typeof init[key] === 'string') {
      modelSpecific.set(key, init[key]);
      delete init[key];
    }
  }
  const takeNamedExtra = () => {
    if (!isObject(init.extra_special_tokens)) return;
    for (const [key, value] of Object.entries(init.extra_special_tokens)) modelSpecific.set(key, value);
    delete init.extra_special_tokens;
  };
  takeNamedExtra();

  let declared: TokenSpec[];
  if (isObject(folder.config.added_tokens_decoder)) {
    declared = Object.entries(folder.config.added_tokens_decoder)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, fields]) => fromFields(fields as Json));
  } else {
    // Legacy folders: special_tokens_map.json overrides the config, tokenizer.json lists the added tokens.
    for (const [key, value] of Object.entries(folder.specialTokensMap ?? {})) {
      if (key === 'extra_special_tokens' && Array.isArray(value)) {
        const merged = Array.isArray(init.extra_special_tokens) ? [...init.extra_special_tokens] : [];
        for (const token of value) {
          const t = isObject(token) ? fromFields(token, true) : token;
          if (!merged.some((m) => toSpec(m)?.content === toSpec(t)?.content)) merged.push(t);
        }
        init[key] = merged;
      } else {
        init[key] = isObject(value) && key !== 'extra_special_tokens' ? fromFields(value, true) : value;
      }
    }
    takeNamedExtra();
    const added = Array.isArray(folder.tokenizer.added_tokens) ? (folder.tokenizer.added_tokens as Json[]) : [];
    declared = [...added].sort((a, b) => Number(a.id) - Number(b.id)).map((fields) => fromFields(fields));
  }
  if ('additional_special_tokens' in init && !('extra_special_tokens' in init)) {
    init.extra_special_tokens = init.additional_special_tokens;
  }
  for (const key of Object.keys(init)) if (isSerializedToken(init[key])) init[key] = fromFields(init[key] as Json);
  // tokenizer.json's own padding settings name a default pad token
  const padding = folder.tokenizer.padding;
  if (isObject(padding) && !('pad_token' in init)) init.pad_token = padding.pad_token;

  const named = new Map<string, TokenSpec>();
  for (const key of NAMED) {
    const spec = toSpec(init[key]);
    if (spec) named.set(key, spec);
  }
  // `*_token`s still in init (AddedTokens, or strings from special_tokens_map.json) come before the ones taken
  // from the config as strings: transformers merges {**auto, **explicit}
  const auto = Object.keys(init).filter(
    (k) => !NAMED.includes(k) && k.endsWith('_token') && (typeof init[k] === 'string' || isSpec(init[k])),
  );
  for (const key of [...auto, ...modelSpecific.keys()]) {
    const spec = toSpec(modelSpecific.get(key) ?? init[key]);
    if (spec) named.set(key, spec);
  }
  const extra = Array.isArray(init.extra_special_tokens)
    ? init.extra_special_tokens.map(toSpec).filter((t): t is TokenSpec => t !== undefined)
    : [];
  return { named, extra, declared };
}

/**
 * What TokenizersBackend.__init__ adds to the backend: every declared token (`tokenizers` skips exact repeats),
 * then named and extra special tokens that are not added tokens yet. A token already in the model vocabulary keeps
 * its id but becomes an added token, so it is matched whole in text from then on.
 */
export function tokensToAdd(special: SpecialTokens, backendAdded: Iterable<string>): TokenSpec[] {
  const toAdd = [...special.declared];
  const present = new Set([...backendAdded, ...toAdd.map((t) => t.content)]);
  const namedContents = new Set([...special.named.values()].map((t) => t.content));
  for (const token of [...special.named.values(), ...special.extra]) {
    if (present.has(token.content)) continue;
    present.add(token.content);
    toAdd.push(namedContents.has(token.content) ? { ...token, special: true } : token);
  }
  return toAdd;
}
