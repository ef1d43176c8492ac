// Rows → SFT examples: TRL's precedence (prompt/completion, messages, ShareGPT, text field), ShareGPT's
// from/value converted as maybe_convert_to_chatml does, and errors that name the file, row and field.
import { describe, expect, it } from 'vitest';
import { toSftExample } from '../../../src/data/sft/sft-rows.js';

const at = { file: 'data.jsonl', row: 3 };
const options = { dataset_text_field: 'text' };
const turn = (role: string, content: string) => ({ role, content });

describe('toSftExample', () => {
  it('reads each format, prompt/completion first', () => {
    expect(toSftExample({ text: 'a' }, at, options)).toMatchObject({ format: 'text', text: 'a' });
    expect(toSftExample({ body: 'b', text: 'a' }, at, { dataset_text_field: 'body' })).toMatchObject({
      format: 'text',
      text: 'b',
    });
    expect(toSftExample({ prompt: 'p', completion: 'c', text: 't' }, at, options)).toMatchObject({
      format: 'prompt_completion',
      prompt: 'p',
      completion: 'c',
    });
    expect(toSftExample({ messages: [turn('user', 'hi')], text: 't' }, at, options)).toMatchObject({
      format: 'messages',
    });
    expect(
      toSftExample({ prompt: [turn('user', 'q')], completion: [turn('assistant', 'a')] }, at, options),
    ).toMatchObject({ format: 'prompt_completion_messages' });
    // null columns (a Parquet file's other format) count as absent
    expect(toSftExample({ prompt: null, completion: null, text: 'a' }, at, options)).toMatchObject({ format: 'text' });
  });

  it('converts ShareGPT turns, keeping role names and other keys', () => {
    const example = toSftExample(
      {
        conversations: [
          { from: 'human', value: 'hi', weight: 0 },
          { from: 'gpt', value: 'yo' },
        ],
      },
      at,
      options,
    );
    expect(example).toMatchObject({
      format: 'messages',
      messages: [
        { weight: 0, role: 'human', content: 'hi' },
        { role: 'gpt', content: 'yo' },
      ],
    });
    expect(toSftExample({ conversations: [turn('user', 'hi')] }, at, options)).toMatchObject({
      messages: [turn('user', 'hi')],
    });
  });

  it('parses tools given as JSON text and keeps chat_template_kwargs', () => {
    const example = toSftExample(
      {
        messages: [turn('user', 'hi')],
        tools: '[{"type":"function"}]',
        chat_template_kwargs: { enable_thinking: false },
      },
      at,
      options,
    );
    expect(example).toMatchObject({
      tools: [{ type: 'function' }],
      chatTemplateKwargs: { enable_thinking: false },
      at,
    });
  });

  it.each([
    [{ prompt: 'p' }, /^data\.jsonl: row 3: missing field 'completion'/],
    [{ prompt: 'p', completion: [turn('assistant', 'a')] }, /row 3, field 'completion': is a list but prompt is text/],
    [
      { prompt: [turn('user', 'q')], completion: 'a' },
      /field 'completion': is string "a" but prompt is a message list/,
    ],
    [{ messages: [] }, /field 'messages': empty message list/],
    [
      { messages: [{ role: 'user' }] },
      /field 'messages': message 0 must be an object with string 'role' and 'content'/,
    ],
    [{ messages: 'hello' }, /field 'messages': expected a list of \{role, content\} messages, got string "hello"/],
    [{ conversations: [{ from: 'human' }] }, /field 'conversations': message 0 must be/],
    [{ text: 7 }, /field 'text': expected text, got number 7/],
    [{ messages: [turn('user', 'hi')], tools: '{oops' }, /field 'tools': invalid JSON/],
    [
      { question: 'q' },
      /no SFT fields: expected 'text' \(dataset_text_field\), 'messages', 'conversations', or 'prompt' and 'completion'; found question/,
    ],
  ])('rejects %j', (values, message) => {
    expect(() => toSftExample(values, at, options)).toThrow(message);
  });
});
