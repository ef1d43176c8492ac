// TRL's `extract_prompt` (trl/data_utils.py): a preference row without a prompt column has its prompt as
// the longest shared prefix of chosen and rejected — characters for text, whole turns for conversations.
// Mirrors TRL exactly, including its quirks: a chosen that is a prefix of rejected ends the prompt one
// element early (the loop finishes without `break`), and a space before the split point goes to the
// completions. Text is compared by code point, as Python indexes strings.
import { AlignkitError } from '../errors.js';

export type Turn = { role: string; content: unknown; [key: string]: unknown };
export type Side = string | Turn[];

function sameTurn(a: Turn, b: Turn): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Index where the prompt ends, as TRL's loop leaves `idx`. */
function splitIndex<T>(
  chosen: T[],
  rejected: T[],
  same: (a: T, b: T) => boolean,
  isSpace: (x: T | undefined) => boolean,
): number {
  const n = Math.min(chosen.length, rejected.length);
  for (let idx = 0; idx < n; idx++) {
    if (!same(chosen[idx]!, rejected[idx]!)) {
      // Python's chosen[idx - 1] wraps to the last element when idx is 0.
      if (isSpace(chosen.at(idx - 1))) idx -= 1;
      return idx;
    }
  }
  return Math.max(n - 1, 0);
}

export function extractPrompt(chosen: Side, rejected: Side): { prompt: Side; chosen: Side; rejected: Side } {
  if (typeof chosen === 'string' && typeof rejected === 'string') {
    const c = Array.from(chosen);
    const r = Array.from(rejected);
    const idx = splitIndex(
      c,
      r,
      (a, b) => a === b,
      (x) => x === ' ',
    );
    return { prompt: c.slice(0, idx).join(''), chosen: c.slice(idx).join(''), rejected: r.slice(idx).join('') };
  }
  if (Array.isArray(chosen) && Array.isArray(rejected)) {
    const idx = splitIndex(chosen, rejected, sameTurn, () => false);
    return { prompt: chosen.slice(0, idx), chosen: chosen.slice(idx), rejected: rejected.slice(idx) };
  }
  throw new AlignkitError('ERR_INVALID_DATA', 'chosen and rejected must both be text or both be message lists');
}
