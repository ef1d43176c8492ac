// Special-token resolution on config variants (added_tokens_decoder, legacy special_tokens_map.json,
// model-specific *_token keys, padding inside tokenizer.json) against transformers 5.18.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { tempDir } from '../helpers/fixtures.js';
import { reference, tokenizerDir } from './reference.js';

const { text, cases } = reference.special_cases;

/** plain-bytelevel's tokenizer.json with the case's padding, and the case's config files. */
function caseFolder(files: Record<string, unknown>): string {
  const dir = tempDir('special');
  const tokenizer = JSON.parse(readFileSync(join(tokenizerDir('plain-bytelevel'), 'tokenizer.json'), 'utf8'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ ...tokenizer, padding: files.padding ?? null }));
  for (const [file, content] of Object.entries(files)) {
    if (file.endsWith('.json')) writeFileSync(join(dir, file), JSON.stringify(content));
  }
  return dir;
}

describe.each(Object.keys(cases))('%s', (name) => {
  const ref = cases[name]!;

  it('resolves special tokens and encodes as transformers does', async () => {
    const tok = await Tokenizer.load(caseFolder(ref.files));
    expect({
      bos: [tok.bosToken ?? null, tok.bosTokenId ?? null],
      eos: [tok.eosToken, tok.eosTokenId],
      pad: [tok.padToken ?? null, tok.padTokenId ?? null],
      map: tok.specialTokens,
      vocab: tok.vocabSize,
    }).toEqual({
      bos: [ref.bos_token, ref.bos_token_id],
      eos: [ref.eos_token, ref.eos_token_id],
      pad: [ref.pad_token, ref.pad_token_id],
      map: ref.special_tokens_map,
      vocab: ref.vocab_size,
    });
    expect(await tok.encode(text)).toEqual(ref.ids);
    expect(await tok.encode(text, { addSpecialTokens: false })).toEqual(ref.ids_no_special);
  });
});

it('model-specific *_token keys reach the chat template', async () => {
  const dir = caseFolder(cases['added-tokens-decoder']!.files);
  writeFileSync(join(dir, 'chat_template.jinja'), '{{ image_token }}{{ messages[0].content }}');
  const tok = await Tokenizer.load(dir);
  expect(tok.applyChatTemplate([{ role: 'user', content: 'x' }])).toBe('<image>x');
});
