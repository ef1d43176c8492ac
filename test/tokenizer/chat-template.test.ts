// apply_chat_template parity with transformers 5.18: the folders' own templates, and templates loaded by path.
import { describe, expect, it } from 'vitest';
import { AlignkitError } from '../../src/errors.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { strftime } from '../../src/tokenizer/strftime.js';
import { fixedNow, useTemplateClock } from '../helpers/template-clock.js';
import { caseName, expectChat, reference, templateFile, tokenizerDir } from './reference.js';

useTemplateClock();

const withTemplates = Object.entries(reference.tokenizers).filter(([, ref]) => ref.chat);

describe.each(withTemplates)("%s's own chat template", (name, ref) => {
  it.each(ref.chat!.map((c) => [caseName(c), c] as const))('%s', async (_, c) => {
    await expectChat(await Tokenizer.load(tokenizerDir(name)), c);
  });
});

describe.each(Object.entries(reference.template_files))('template file %s', (file, cases) => {
  it.each(cases.map((c) => [caseName(c), c] as const))('%s', async (_, c) => {
    await expectChat(
      await Tokenizer.load(tokenizerDir('chatml-bytelevel'), { chatTemplate: templateFile(file) }),
      c,
      false,
    );
  });
});

describe('strftime_now', () => {
  it.each(reference.strftime.map((r) => [r.format, r.text] as const))(
    '%s is what Python writes in the C locale',
    (format, text) => {
      expect(strftime(fixedNow(), format)).toBe(text);
    },
  );

  it('reads the clock (a SmolLM3-style header carries the day)', async () => {
    const tok = await Tokenizer.load(tokenizerDir('chatml-bytelevel'), {
      chatTemplate: templateFile('smollm3_style.jinja'),
    });
    expect(tok.applyChatTemplate([{ role: 'user', content: 'hi' }])).toContain('Today Date: 05 March 2026\n');
  });
});

describe('template errors', () => {
  it("raise_exception gives ERR_INVALID_DATA with the template's message", async () => {
    const tok = await Tokenizer.load(tokenizerDir('llama2-metaspace'));
    const err = (() => {
      try {
        tok.applyChatTemplate(reference.conversations['bad-roles']!);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AlignkitError);
    expect(err).toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: 'chat template: Conversation roles must alternate user/assistant/user/assistant/...',
    });
  });

  it('an empty conversation is ERR_INVALID_DATA', async () => {
    const tok = await Tokenizer.load(tokenizerDir('chatml-bytelevel'));
    expect(() => tok.applyChatTemplate([])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_DATA' }));
  });

  it('continueFinalMessage with addGenerationPrompt is ERR_INVALID_ARG', async () => {
    const tok = await Tokenizer.load(tokenizerDir('chatml-bytelevel'));
    const messages = reference.conversations['user-assistant']!;
    expect(() => tok.applyChatTemplate(messages, { continueFinalMessage: true, addGenerationPrompt: true })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG' }),
    );
  });
});
