// Turns a dataset row into the example TRL 1.13's SFTTrainer tokenizes, checking it as we go. The layouts are
// TRL's: language modeling (`text`, or the column named by dataset_text_field), conversational (`messages`),
// prompt/completion (both text or both message lists), and ShareGPT `conversations` of {from, value} turns,
// converted as TRL's maybe_convert_to_chatml does (from → role, value → content; role names are kept, so
// "human"/"gpt" stay as they are). Precedence follows SFTTrainer._prepare_dataset's tokenize_fn: a row with a
// prompt is prompt/completion, then messages, then the text field.
import type { Turn } from '../extract-prompt.js';
import { dataError, describe, rowContext, type RowContext, type RowLocation } from '../row-context.js';

/** The four dataset formats TRL's SFT reads (ShareGPT rows become `messages`). */
export type SftExample = RowContext &
  (
    | { format: 'text'; text: string }
    | { format: 'messages'; messages: Turn[] }
    | { format: 'prompt_completion'; prompt: string; completion: string }
    | { format: 'prompt_completion_messages'; prompt: Turn[]; completion: Turn[] }
  );

export type SftFormat = SftExample['format'];

export interface SftRowOptions {
  /** The column holding plain text (TRL's `dataset_text_field`). */
  dataset_text_field: string;
}

/** Conversational formats go through the chat template; the others are tokenized as text. */
export const isConversational = (format: SftFormat): boolean =>
  format === 'messages' || format === 'prompt_completion_messages';

const present = (values: Record<string, unknown>, field: string) =>
  values[field] !== undefined && values[field] !== null;

function text(at: RowLocation, field: string, value: unknown): string {
  if (typeof value !== 'string') throw dataError(at, field, `expected text, got ${describe(value)}`);
  return value;
}

/** A non-empty list of {role, content} messages. */
function messages(at: RowLocation, field: string, value: unknown): Turn[] {
  if (!Array.isArray(value))
    throw dataError(at, field, `expected a list of {role, content} messages, got ${describe(value)}`);
  if (value.length === 0) throw dataError(at, field, 'empty message list');
  value.forEach((m, i) => {
    if (typeof m !== 'object' || m === null || typeof (m as Turn).role !== 'string' || !('content' in m)) {
      throw dataError(at, field, `message ${i} must be an object with string 'role' and 'content', got ${describe(m)}`);
    }
  });
  return value as Turn[];
}

/** TRL's maybe_convert_to_chatml on one conversation: {from, value} → {role, content}, other keys kept. */
function fromShareGpt(at: RowLocation, value: unknown): Turn[] {
  if (!Array.isArray(value))
    throw dataError(at, 'conversations', `expected a list of {from, value} turns, got ${describe(value)}`);
  const converted = value.map((m: unknown) => {
    if (typeof m !== 'object' || m === null) return m;
    const { from, value: content, ...turn } = m as Record<string, unknown>;
    if ('from' in m) turn.role = from;
    if ('value' in m) turn.content = content;
    return turn;
  });
  return messages(at, 'conversations', converted);
}

/** The SFT example of one (column-mapped) row. */
export function toSftExample(values: Record<string, unknown>, at: RowLocation, options: SftRowOptions): SftExample {
  const ctx = rowContext(values, at);
  if (present(values, 'prompt')) {
    if (!present(values, 'completion')) {
      throw dataError(
        at,
        undefined,
        `missing field 'completion' (a row with a prompt needs a completion; found ${Object.keys(values).join(', ')})`,
      );
    }
    if (typeof values.prompt === 'string') {
      if (typeof values.completion !== 'string')
        throw dataError(at, 'completion', `is ${describe(values.completion)} but prompt is text`);
      return { ...ctx, format: 'prompt_completion', prompt: values.prompt, completion: values.completion };
    }
    const prompt = messages(at, 'prompt', values.prompt);
    if (!Array.isArray(values.completion))
      throw dataError(at, 'completion', `is ${describe(values.completion)} but prompt is a message list`);
    return {
      ...ctx,
      format: 'prompt_completion_messages',
      prompt,
      completion: messages(at, 'completion', values.completion),
    };
  }
  if (present(values, 'messages'))
    return { ...ctx, format: 'messages', messages: messages(at, 'messages', values.messages) };
  if (present(values, 'conversations'))
    return { ...ctx, format: 'messages', messages: fromShareGpt(at, values.conversations) };
  const field = options.dataset_text_field;
  if (present(values, field)) return { ...ctx, format: 'text', text: text(at, field, values[field]) };
  throw dataError(
    at,
    undefined,
    `no SFT fields: expected '${field}' (dataset_text_field), 'messages', 'conversations', or ` +
      `'prompt' and 'completion'; found ${Object.keys(values).join(', ') || 'no fields'} (map other names with dataset_columns)`,
  );
}
