// Token ids, decoding and special tokens equal transformers' AutoTokenizer on the fixture tokenizers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { fixturesDir, modelDir } from '../helpers/fixtures.js';
import { reference, tokenizerDir } from './reference.js';

describe.each(Object.keys(reference.tokenizers))('%s', (name) => {
  const ref = reference.tokenizers[name]!;

  it('resolves special tokens as transformers does', async () => {
    const tok = await Tokenizer.load(tokenizerDir(name));
    expect({
      bos: [tok.bosToken ?? null, tok.bosTokenId ?? null],
      eos: [tok.eosToken, tok.eosTokenId],
      unk: [tok.unkToken ?? null, tok.unkTokenId ?? null],
      pad: [tok.padToken ?? null, tok.padTokenId ?? null],
    }).toEqual({
      bos: [ref.bos_token, ref.bos_token_id],
      eos: [ref.eos_token, ref.eos_token_id],
      unk: [ref.unk_token, ref.unk_token_id],
      pad: [ref.pad_token, ref.pad_token_id],
    });
    expect(tok.specialTokens).toEqual(ref.special_tokens_map);
    expect(tok.vocabSize).toBe(ref.vocab_size);
    expect(tok.chatTemplate ?? null).toBe(ref.chat_template);
    expect(tok.addedTokens).toEqual([]);
  });

  it('encodes every text to the same ids, with and without special tokens', async () => {
    const tok = await Tokenizer.load(tokenizerDir(name));
    for (const [i, text] of reference.texts.entries()) {
      const want = ref.encode[i]!;
      expect(await tok.encode(text), JSON.stringify(text)).toEqual(want.ids);
      expect(await tok.encode(text, { addSpecialTokens: false }), JSON.stringify(text)).toEqual(want.ids_no_special);
    }
  });

  it('encodeBatch gives the same ids as encode', async () => {
    const tok = await Tokenizer.load(tokenizerDir(name));
    expect(await tok.encodeBatch(reference.texts)).toEqual(ref.encode.map((r) => r.ids));
    expect(await tok.encodeBatch(reference.texts, { addSpecialTokens: false })).toEqual(
      ref.encode.map((r) => r.ids_no_special),
    );
  });

  it('decodes as transformers does', async () => {
    const tok = await Tokenizer.load(tokenizerDir(name));
    for (const want of ref.encode) {
      expect(await tok.decode(want.ids)).toBe(want.decoded);
      expect(await tok.decode(want.ids, { skipSpecialTokens: true })).toBe(want.decoded_skip_special);
    }
  });
});

describe('the llama model fixture tokenizer (scripts/fixtures/make_models.py)', () => {
  interface Case {
    text: string;
    ids: number[];
    ids_no_special: number[];
    decoded: string;
    decoded_skip_special: string;
  }
  const ref = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'llama-tokenizer.json'), 'utf8')) as {
    bos_token_id: number;
    eos_token_id: number;
    pad_token_id: number;
    vocab_size: number;
    cases: Case[];
  };

  it('matches its recorded ids and special tokens', async () => {
    const tok = await Tokenizer.load(modelDir('llama'));
    expect([tok.bosTokenId, tok.eosTokenId, tok.padTokenId, tok.vocabSize]).toEqual([
      ref.bos_token_id,
      ref.eos_token_id,
      ref.pad_token_id,
      ref.vocab_size,
    ]);
    for (const c of ref.cases) {
      expect(await tok.encode(c.text)).toEqual(c.ids);
      expect(await tok.encode(c.text, { addSpecialTokens: false })).toEqual(c.ids_no_special);
      expect(await tok.decode(c.ids_no_special)).toBe(c.decoded);
      expect(await tok.decode(c.ids, { skipSpecialTokens: true })).toBe(c.decoded_skip_special);
    }
  });
});
