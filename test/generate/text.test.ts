// model.generate(): text and chat prompts through the tokenizer, batches, stop strings against transformers'
// stop_strings (scripts/fixtures/make_generation.py), finish reasons, cancellation and errors.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, Tokenizer, type Message } from '../../src/index.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';
import { reference } from './reference.js';

const llama = async () => [await loadModel(modelDir('llama')), await Tokenizer.load(modelDir('llama'))] as const;

const stopCase = (c: (typeof reference.stop)[number]) => (c.spans_tokens ? 'across two tokens' : 'inside one token');

describe.each(reference.stop.map((c) => [stopCase(c), c] as const))('a stop string %s', (_, c) => {
  it('stops at the token transformers stops at; the text is cut before the stop string', async () => {
    const [model, tokenizer] = await llama();
    const stop = c.stop[0]!;
    const pieces = await Promise.all(c.new_tokens.map((t) => tokenizer.decode([t])));
    expect(pieces.some((p) => p.includes(stop))).toBe(!c.spans_tokens);

    const out = await model.generate(c.prompt, { stop: c.stop, max_new_tokens: c.max_new_tokens });
    expect(out).toEqual({ text: c.text.slice(0, c.text.indexOf(stop)), tokenIds: c.new_tokens, finishReason: 'stop' });
  });
});

describe('model.generate', () => {
  it('a text prompt is tokenized as tokenizer(text) and the completion decoded', async () => {
    const [model, tokenizer] = await llama();
    const ids = await tokenizer.encode('The quick brown fox');
    const [expected] = await model.generateTokenIds([ids], { max_new_tokens: 20 });
    const out = await model.generate('The quick brown fox', { max_new_tokens: 20 });
    expect(out).toEqual({
      text: await tokenizer.decode(expected!.tokenIds),
      tokenIds: expected!.tokenIds,
      finishReason: 'length',
    });
  });

  it('a conversation gets the chat template with the generation prompt; batches mix both kinds', async () => {
    const template = join(tempDir('generate'), 'chat.jinja');
    writeFileSync(
      template,
      '{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}',
    );
    const model = await loadModel(modelDir('llama'));
    const tokenizer = await Tokenizer.load(modelDir('llama'), { chatTemplate: template });
    const chat: Message[] = [{ role: 'user', content: 'Say hi' }];
    const chatIds = await tokenizer.encode('user: Say hi\nassistant:', { addSpecialTokens: false });
    expect(await tokenizer.applyChatTemplateIds(chat, { addGenerationPrompt: true })).toEqual(chatIds);

    const [expected] = await model.generateTokenIds([chatIds], { max_new_tokens: 12 });
    const alone = await model.generate(chat, { tokenizer, max_new_tokens: 12 });
    expect(alone.tokenIds).toEqual(expected!.tokenIds);

    const batch = await model.generate(['Hello there', chat, 'A'], { tokenizer, max_new_tokens: 12 });
    expect(batch).toHaveLength(3);
    expect(batch[1]).toEqual(alone);
    expect(batch[0]).toEqual(await model.generate('Hello there', { tokenizer, max_new_tokens: 12 }));
    expect(batch[2]).toEqual(await model.generate('A', { tokenizer, max_new_tokens: 12 }));
  });

  it('an EOS ends the completion: in tokenIds, not in the text', async () => {
    const [model, tokenizer] = await llama();
    const [full] = await model.generateTokenIds([await tokenizer.encode('Hello there, how')], { max_new_tokens: 12 });
    const eos = full!.tokenIds[5]!;
    const out = await model.generate('Hello there, how', { max_new_tokens: 12, eos_token_id: eos });
    const end = full!.tokenIds.indexOf(eos) + 1;
    expect(out).toEqual({
      text: await tokenizer.decode(full!.tokenIds.slice(0, end - 1)),
      tokenIds: full!.tokenIds.slice(0, end),
      finishReason: 'eos',
    });
  });

  it('the same seed samples the same text; stop strings apply to sampled text, over several chunks of steps', async () => {
    const [model] = await llama();
    const options = { do_sample: true, seed: 3, max_new_tokens: 40, temperature: 1.2 };
    const [a, b] = [await model.generate('The quick', options), await model.generate('The quick', options)];
    expect(a).toEqual(b);
    const at = 50 + a.text.slice(50).search(/[A-Za-z]{3}/);
    const stop = a.text.slice(at, at + 3);
    const stopped = await model.generate('The quick', { ...options, stop: ['never there', stop] });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.text).toBe(a.text.slice(0, a.text.indexOf(stop)));
    expect(stopped.tokenIds).toEqual(a.tokenIds.slice(0, stopped.tokenIds.length));
    expect(stopped.tokenIds.length).toBeGreaterThan(16); // past the first chunk
  });

  it('skip_special_tokens: false keeps special tokens other than the final EOS in the text', async () => {
    const [model, tokenizer] = await llama();
    // seed 3 samples </s> (id 1) at the 36th token: without EOS ids, generation runs past it
    const options = { do_sample: true, seed: 3, max_new_tokens: 40, temperature: 1.2, eos_token_id: [] };
    const kept = await model.generate('The quick', { ...options, skip_special_tokens: false });
    const skipped = await model.generate('The quick', options);
    expect(kept.tokenIds).toContain(1);
    expect(kept.tokenIds).toEqual(skipped.tokenIds);
    expect(kept.text).toBe(await tokenizer.decode(kept.tokenIds));
    expect(kept.text).toContain('</s>');
    expect(skipped.text).toBe(kept.text.replace('</s>', ''));
  });

  it('an AbortSignal stops generation between steps; the model stays usable', async () => {
    const [model] = await llama();
    const controller = new AbortController();
    const pending = model.generate('The quick', { max_new_tokens: 100, signal: controller.signal });
    controller.abort(new Error('enough'));
    await expect(pending).rejects.toThrow('enough');
    expect((await model.generate('The quick', { max_new_tokens: 3 })).tokenIds).toHaveLength(3);
  });

  it('rejects inputs and options it cannot use, naming them', async () => {
    const [model] = await llama();
    await expect(model.generate([] as string[])).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: 'generate: input is an empty array; pass a string, a Message[] or an array of those',
    });
    await expect(model.generate(['a', [{ content: 'x' } as unknown as Message]])).rejects.toThrow(
      'generate: prompt 1 must be a string or an array of { role, content } messages',
    );
    await expect(model.generate('a', { stop: [''] })).rejects.toThrow(
      'generate: options.stop must be an array of non-empty strings, got [""]',
    );
    const noTokenizer = await loadModel(modelDir('qwen3'));
    await expect(noTokenizer.generate('a')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringMatching(/model folder .*qwen3 has no usable tokenizer; pass options.tokenizer/),
    });
  });
});
