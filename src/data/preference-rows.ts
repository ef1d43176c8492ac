// Turns a dataset row into the prompt/chosen/rejected triple TRL's DPOTrainer tokenizes, checking it as we
// go. Accepts the layouts people have without configuration — explicit prompt (text or messages), implicit
// prompt (chosen/rejected only, as Anthropic hh-rlhf), UltraFeedback-binarized (prompt text + full
// conversations), orca_dpo_pairs (system/question) — and others through `dataset_columns`.
import { extractPrompt, type Side, type Turn } from './extract-prompt.js';
import { dataError, describe, rowContext, type RowContext, type RowLocation } from './row-context.js';

export interface PreferenceExample extends RowContext {
  prompt: Side;
  chosen: Side;
  rejected: Side;
  /** Message lists (chat template) rather than plain text. */
  conversational: boolean;
}

/**
 * A text or a list of {role, content} messages; anything else is an error naming the field. A completion
 * with nothing in it (empty text, no messages, or only empty messages) would teach nothing: an error too.
 */
export function side(at: RowLocation, field: string, value: unknown, allowEmpty: boolean): Side {
  if (typeof value === 'string') {
    if (!allowEmpty && value.length === 0) throw dataError(at, field, 'empty text');
    return value;
  }
  if (Array.isArray(value)) {
    value.forEach((m, i) => {
      if (typeof m !== 'object' || m === null || typeof (m as Turn).role !== 'string' || !('content' in m)) {
        throw dataError(
          at,
          field,
          `message ${i} must be an object with string 'role' and 'content', got ${describe(m)}`,
        );
      }
    });
    if (!allowEmpty && value.every((m: Turn) => m.content === '')) {
      throw dataError(at, field, value.length === 0 ? 'empty message list' : 'every message is empty');
    }
    return value as Turn[];
  }
  throw dataError(at, field, `expected text or a list of {role, content} messages, got ${describe(value)}`);
}

const message = (role: string, content: unknown): Turn => ({ role, content });

/** The preference example of one (column-mapped) row. */
export function toPreferenceExample(values: Record<string, unknown>, at: RowLocation): PreferenceExample {
  for (const field of ['chosen', 'rejected']) {
    if (!(field in values)) {
      throw dataError(
        at,
        undefined,
        `missing field '${field}' (preference rows need chosen and rejected, and ` +
          `optionally prompt; found ${Object.keys(values).join(', ') || 'no fields'}; map other names with dataset_columns)`,
      );
    }
  }
  let chosen = side(at, 'chosen', values.chosen, false);
  let rejected = side(at, 'rejected', values.rejected, false);
  let prompt: Side;

  if (typeof values.question === 'string' && !('prompt' in values)) {
    // orca_dpo_pairs: system + question, answers as text; becomes a conversation.
    const system =
      typeof values.system === 'string' && values.system.length > 0 ? [message('system', values.system)] : [];
    prompt = [...system, message('user', values.question)];
    if (typeof chosen !== 'string' || typeof rejected !== 'string')
      throw dataError(at, 'chosen', 'expected text next to question');
    chosen = [message('assistant', chosen)];
    rejected = [message('assistant', rejected)];
  } else if (!('prompt' in values) || (typeof values.prompt === 'string' && Array.isArray(chosen))) {
    // Implicit prompt (hh-rlhf), or UltraFeedback-binarized whose conversations repeat the prompt text.
    if (typeof chosen !== typeof rejected)
      throw dataError(at, 'rejected', 'chosen and rejected must both be text or both be message lists');
    ({ prompt, chosen, rejected } = extractPrompt(chosen, rejected));
    if (chosen.length === 0 || rejected.length === 0) {
      throw dataError(
        at,
        chosen.length === 0 ? 'chosen' : 'rejected',
        'nothing left after removing the prompt shared with the other completion',
      );
    }
  } else {
    prompt = side(at, 'prompt', values.prompt, true);
  }

  const conversational = Array.isArray(chosen);
  for (const [field, v] of [
    ['prompt', prompt],
    ['rejected', rejected],
  ] as const) {
    if (Array.isArray(v) !== conversational) {
      throw dataError(
        at,
        field,
        `is ${Array.isArray(v) ? 'a message list' : 'text'} but chosen is ${conversational ? 'a message list' : 'text'}`,
      );
    }
  }
  return { ...rowContext(values, at), prompt, chosen, rejected, conversational };
}
