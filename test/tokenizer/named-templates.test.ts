// Named chat templates on a folder without one, against the same template applied in transformers 5.18
// (special tokens added and bos/eos/pad repointed as TRL's setup_chat_format did for chatml).
import { describe, expect, it } from 'vitest';
import { isTemplateName, Tokenizer, type TemplateName } from '../../src/tokenizer/index.js';
import { NAMED_TEMPLATES } from '../../src/tokenizer/named-templates.js';
import { caseName, expectChat, reference, tokenizerDir } from './reference.js';

const names = Object.keys(reference.named.results) as TemplateName[];
const base = reference.tokenizers['plain-bytelevel']!;

it('covers every named template with the published template strings', () => {
  expect(names.sort()).toEqual(Object.keys(NAMED_TEMPLATES).sort());
  for (const name of names) expect(NAMED_TEMPLATES[name].template, name).toBe(reference.named.templates[name]);
  expect(isTemplateName('chatml')).toBe(true);
  expect(isTemplateName('path/to/file.jinja')).toBe(false);
});

describe.each(names)('%s', (name) => {
  const ref = reference.named.results[name]!;
  const load = () => Tokenizer.load(tokenizerDir('plain-bytelevel'), { chatTemplate: name });

  it('adds the missing special tokens and repoints bos/eos/pad', async () => {
    const tok = await load();
    expect(tok.chatTemplate).toBe(reference.named.templates[name]);
    expect(tok.addedTokens).toEqual(ref.added_tokens);
    expect(tok.vocabSize).toBe(ref.vocab_size);
    expect(tok.vocabSize - tok.addedTokens.length).toBe(base.vocab_size);
    expect([tok.bosToken, tok.bosTokenId, tok.eosToken, tok.eosTokenId, tok.padToken, tok.padTokenId]).toEqual([
      ref.bos_token,
      ref.bos_token_id,
      ref.eos_token,
      ref.eos_token_id,
      ref.pad_token,
      ref.pad_token_id,
    ]);
    expect(tok.specialTokens).toEqual(ref.special_tokens_map);
  });

  it('encodes text with the added tokens as transformers does', async () => {
    const tok = await load();
    const want = ref.encode_no_special ?? base.encode.map((r) => r.ids_no_special);
    expect(await tok.encodeBatch(reference.texts, { addSpecialTokens: false })).toEqual(want);
  });

  it.each(ref.chat.map((c) => [caseName(c), c] as const))('renders %s', async (_, c) => {
    await expectChat(await load(), c);
  });
});

it('a named template replaces the folder template', async () => {
  const tok = await Tokenizer.load(tokenizerDir('chatml-bytelevel'), { chatTemplate: 'zephyr' });
  expect(tok.applyChatTemplate([{ role: 'user', content: 'hi' }])).toBe('<|user|>\nhi<|im_end|>\n');
  // chatml's tokens are already special tokens of this folder: nothing to add
  const chatml = await Tokenizer.load(tokenizerDir('chatml-bytelevel'), { chatTemplate: 'chatml' });
  expect(chatml.addedTokens).toEqual([]);
  expect(chatml.vocabSize).toBe(reference.tokenizers['chatml-bytelevel']!.vocab_size);
});
