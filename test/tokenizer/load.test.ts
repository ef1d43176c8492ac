// Where the chat template comes from, and the errors a bad tokenizer folder gives.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { tempDir } from '../helpers/fixtures.js';
import { reference, tokenizerDir } from './reference.js';

/** A copy of plain-bytelevel (no chat template) with extra files. */
function folder(files: Record<string, string | object> = {}): string {
  const dir = tempDir('tokenizer');
  for (const file of ['tokenizer.json', 'tokenizer_config.json'])
    copyFileSync(join(tokenizerDir('plain-bytelevel'), file), join(dir, file));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const config = JSON.parse(readFileSync(join(tokenizerDir('plain-bytelevel'), 'tokenizer_config.json'), 'utf8'));
const hi = [{ role: 'user', content: 'hi' }];
const rejects = (promise: Promise<unknown>, code: string, message: RegExp | string) =>
  expect(promise).rejects.toMatchObject({ name: 'AlignkitError', code, message: expect.stringMatching(message) });

describe('chat template sources (transformers 5 order)', () => {
  it('takes chat_template from tokenizer_config.json (string)', async () => {
    const tok = await Tokenizer.load(
      folder({ 'tokenizer_config.json': { ...config, chat_template: 'A{{ messages[0].content }}' } }),
    );
    expect(tok.applyChatTemplate(hi)).toBe('Ahi');
  });

  it('prefers chat_template.jinja over the config', async () => {
    const dir = folder({
      'tokenizer_config.json': { ...config, chat_template: 'config' },
      'chat_template.jinja': 'file {{ eos_token }}\n',
    });
    expect((await Tokenizer.load(dir)).applyChatTemplate(hi)).toBe('file </s>');
  });

  it('picks tool_use when tools are given, default otherwise (config list form)', async () => {
    const templates = [
      { name: 'default', template: 'plain' },
      { name: 'tool_use', template: '{{ tools | length }} tools' },
    ];
    const tok = await Tokenizer.load(folder({ 'tokenizer_config.json': { ...config, chat_template: templates } }));
    expect(tok.applyChatTemplate(hi)).toBe('plain');
    expect(tok.applyChatTemplate(hi, { tools: [{}, {}] })).toBe('2 tools');
  });

  it('reads additional_chat_templates/*.jinja beside chat_template.jinja', async () => {
    const tok = await Tokenizer.load(
      folder({ 'chat_template.jinja': 'main', 'additional_chat_templates/tool_use.jinja': 'tools' }),
    );
    expect(tok.chatTemplate).toBe('main');
    expect(tok.applyChatTemplate(hi, { tools: [] })).toBe('tools');
  });

  it('passes extra options to the template, over the special tokens', async () => {
    const tok = await Tokenizer.load(
      folder({ 'chat_template.jinja': '{{ eos_token }}{% if not enable_thinking %} no-think{% endif %}' }),
    );
    expect(tok.applyChatTemplate(hi, { enable_thinking: false, eos_token: '<E>' })).toBe('<E> no-think');
  });

  it('loads a template by path', async () => {
    const dir = folder({ 'custom.jinja': '[{{ messages | length }}]' });
    const tok = await Tokenizer.load(dir, { chatTemplate: join(dir, 'custom.jinja') });
    expect(tok.applyChatTemplate(hi)).toBe('[1]');
    expect(tok.addedTokens).toEqual([]);
  });

  it('takes the template source itself, as the alignment-handbook recipes set chat_template', async () => {
    const tok = await Tokenizer.load(folder({}), {
      chatTemplate: "{% for m in messages %}<{{ m['role'] }}>{% endfor %}",
    });
    expect(tok.applyChatTemplate(hi)).toBe('<user>');
  });
});

describe('errors', () => {
  it('a missing folder is ERR_NOT_FOUND', async () => {
    await rejects(Tokenizer.load(join(tempDir('tokenizer'), 'nope')), 'ERR_NOT_FOUND', /nope does not exist/);
  });

  it('a folder without tokenizer.json is ERR_NOT_FOUND naming the file', async () => {
    const dir = tempDir('tokenizer');
    writeFileSync(join(dir, 'tokenizer_config.json'), '{}');
    await rejects(Tokenizer.load(dir), 'ERR_NOT_FOUND', /tokenizer\.json not found/);
  });

  it('a tokenizer.json that is not JSON, or not a tokenizer, is ERR_INVALID_MODEL', async () => {
    await rejects(
      Tokenizer.load(folder({ 'tokenizer.json': '{"model": ' })),
      'ERR_INVALID_MODEL',
      /tokenizer\.json: not valid JSON/,
    );
    await rejects(
      Tokenizer.load(folder({ 'tokenizer.json': { model: {} } })),
      'ERR_INVALID_MODEL',
      /tokenizer\.json: the tokenizers library/,
    );
  });

  it('a folder without eos_token is ERR_INVALID_MODEL unless a named template brings one', async () => {
    const { eos_token: _, ...noEos } = config;
    const dir = folder({ 'tokenizer_config.json': noEos });
    await rejects(Tokenizer.load(dir), 'ERR_INVALID_MODEL', /no eos_token/);
    expect((await Tokenizer.load(dir, { chatTemplate: 'chatml' })).eosToken).toBe('<|im_end|>');
  });

  it('an unknown template name is ERR_NOT_FOUND listing the names', async () => {
    await rejects(
      Tokenizer.load(tokenizerDir('plain-bytelevel'), { chatTemplate: 'chatlm' }),
      'ERR_NOT_FOUND',
      /chatml, zephyr, llama2, llama3/,
    );
  });

  it('a template that does not parse is ERR_INVALID_MODEL at load', async () => {
    await rejects(
      Tokenizer.load(folder({ 'chat_template.jinja': '{% for m in messages %}' })),
      'ERR_INVALID_MODEL',
      /chat template does not parse/,
    );
  });

  it('applying a chat template without one is ERR_INVALID_MODEL', async () => {
    const tok = await Tokenizer.load(tokenizerDir('plain-bytelevel'));
    expect(tok.chatTemplate).toBeUndefined();
    expect(() => tok.applyChatTemplate(reference.conversations.user!)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MODEL', message: expect.stringContaining('chat_template: chatml') }),
    );
  });
});
