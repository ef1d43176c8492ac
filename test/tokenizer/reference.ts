// test/fixtures/tokenizers/reference.json, written by scripts/fixtures/make_tokenizers.py from transformers 5.18.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ChatTemplateOptions, Message, Tokenizer } from '../../src/tokenizer/index.js';
import { fixturesDir } from '../helpers/fixtures.js';

export interface EncodeRef {
  ids: number[];
  ids_no_special: number[];
  decoded: string;
  decoded_skip_special: string;
}

/** One apply_chat_template call: `text` and `ids`, or the `error` the template raised. */
export interface ChatRef {
  conversation: string;
  options: Record<string, unknown>;
  text?: string;
  ids?: number[];
  error?: string;
}

export interface SpecialRef {
  bos_token: string | null;
  bos_token_id: number | null;
  eos_token: string;
  eos_token_id: number;
  unk_token: string | null;
  unk_token_id: number | null;
  pad_token: string | null;
  pad_token_id: number | null;
  special_tokens_map: Record<string, string>;
  vocab_size: number;
}

export interface Reference {
  texts: string[];
  conversations: Record<string, Message[]>;
  tokenizers: Record<
    string,
    SpecialRef & { class: string; chat_template: string | null; encode: EncodeRef[]; chat?: ChatRef[] }
  >;
  named: {
    templates: Record<string, string>;
    results: Record<string, SpecialRef & { added_tokens: string[]; encode_no_special?: number[][]; chat: ChatRef[] }>;
  };
  template_files: Record<string, ChatRef[]>;
  /** Python's datetime(*fixed_now).strftime(format). */
  strftime: { format: string; text: string }[];
  /** plain-bytelevel with other config files (`files`; `padding` goes into tokenizer.json). */
  special_cases: {
    text: string;
    cases: Record<string, SpecialRef & { files: Record<string, unknown>; ids: number[]; ids_no_special: number[] }>;
  };
}

export const tokenizerDir = (name: string) => join(fixturesDir, 'tokenizers', name);
export const templateFile = (name: string) => join(fixturesDir, 'tokenizers', 'templates', name);

export const reference: Reference = JSON.parse(readFileSync(join(fixturesDir, 'tokenizers', 'reference.json'), 'utf8'));

/** transformers' keyword arguments as ChatTemplateOptions (the remaining keys pass through unchanged). */
export function chatOptions(options: Record<string, unknown>): ChatTemplateOptions {
  const { add_generation_prompt, continue_final_message, ...rest } = options;
  return {
    ...rest,
    ...(add_generation_prompt !== undefined && { addGenerationPrompt: add_generation_prompt as boolean }),
    ...(continue_final_message !== undefined && { continueFinalMessage: continue_final_message as boolean }),
  };
}

/** A readable test name for a chat case. */
export const caseName = (c: ChatRef) => `${c.conversation} ${JSON.stringify(c.options)}`;

/** Renders `c` and compares text and ids (or the error transformers raised). */
export async function expectChat(tok: Tokenizer, c: ChatRef, ids = true) {
  const messages = reference.conversations[c.conversation]!;
  const options = chatOptions(c.options);
  if (c.error !== undefined) {
    expect(() => tok.applyChatTemplate(messages, options)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_DATA', message: expect.stringContaining(c.error) }),
    );
    return;
  }
  expect(tok.applyChatTemplate(messages, options)).toBe(c.text);
  if (ids) expect(await tok.applyChatTemplateIds(messages, options)).toEqual(c.ids);
}
