// Rows with more than two graded answers per prompt: `prompt` + `completions` + `scores` (text or messages, one score
// per completion), or UltraFeedback's raw layout (`instruction` + `completions: [{response, overall_score,
// fine-grained_score, ...}]`, made a conversation as ultrafeedback_binarized does). Read into one RankedExample: the
// prompt and its answers sorted best first (a stable sort: tied answers keep their order).
import { dataError, describe, rowContext, type RowContext, type RowLocation } from '../row-context.js';
import type { Side, Turn } from '../extract-prompt.js';
import { side } from '../preference-rows.js';

/** Which UltraFeedback score ranks its raw completions. */
export const ULTRAFEEDBACK_SCORES = ['overall_score', 'fine-grained_score'] as const;
export type UltraFeedbackScore = (typeof ULTRAFEEDBACK_SCORES)[number];

export interface RankedExample extends RowContext {
  prompt: Side;
  /** Best first. */
  completions: Side[];
  /** The completions' scores, in the same order (non-increasing). */
  scores: number[];
  conversational: boolean;
}

const turn = (role: string, content: string): Turn => ({ role, content });

function score(at: RowLocation, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw dataError(at, field, `expected a finite number, got ${describe(value)}`);
  return value;
}

/** [prompt, completions, scores] of UltraFeedback's raw row. */
function ultraFeedback(
  values: Record<string, unknown>,
  at: RowLocation,
  field: UltraFeedbackScore,
): [Side, Side[], number[]] {
  if (typeof values.instruction !== 'string') throw dataError(at, 'instruction', 'expected text');
  const completions = values.completions as Record<string, unknown>[];
  const answers = completions.map((c, i) => {
    if (typeof c.response !== 'string' || c.response.length === 0)
      throw dataError(at, `completions[${i}].response`, `expected non-empty text, got ${describe(c.response)}`);
    return [turn('assistant', c.response)];
  });
  const scores = completions.map((c, i) => score(at, `completions[${i}].${field}`, c[field]));
  return [[turn('user', values.instruction)], answers, scores];
}

/** The ranked example of one (column-mapped) row; `scoreField` picks UltraFeedback's score for its raw layout. */
export function toRankedExample(
  values: Record<string, unknown>,
  at: RowLocation,
  scoreField: UltraFeedbackScore,
): RankedExample {
  if (!Array.isArray(values.completions))
    throw dataError(
      at,
      'completions',
      `ranked rows need a list of completions with scores (prompt, completions, scores; or UltraFeedback's instruction and completions), found ${Object.keys(values).join(', ') || 'no fields'}`,
    );
  const raw = values.completions.every((c) => typeof c === 'object' && c !== null && 'response' in c);
  let prompt: Side;
  let completions: Side[];
  let scores: number[];
  if (raw) [prompt, completions, scores] = ultraFeedback(values, at, scoreField);
  else {
    if (!Array.isArray(values.scores) || values.scores.length !== values.completions.length)
      throw dataError(
        at,
        'scores',
        `expected one score per completion (${values.completions.length}), got ${describe(values.scores)}`,
      );
    prompt = side(at, 'prompt', values.prompt, true);
    completions = values.completions.map((c, i) => side(at, `completions[${i}]`, c, false));
    scores = values.scores.map((s, i) => score(at, `scores[${i}]`, s));
  }
  const conversational = Array.isArray(prompt);
  completions.forEach((c, i) => {
    if (Array.isArray(c) !== conversational)
      throw dataError(
        at,
        `completions[${i}]`,
        `is ${Array.isArray(c) ? 'a message list' : 'text'} but the prompt is not`,
      );
  });
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  return {
    ...rowContext(values, at),
    prompt,
    completions: order.map((i) => completions[i]!),
    scores: order.map((i) => scores[i]!),
    conversational,
  };
}
