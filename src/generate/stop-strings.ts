// Stop strings are matched on decoded text, never on token ids: a string can span several tokens, and a token can
// hold a stop string's end and more text after it.

/** Where a completion stops: the tokens up to the one that completes a stop string, and the text before it. */
export interface StopPoint {
  /** Tokens kept: the last one completes the stop string. */
  tokens: number;
  /** The completion's text, cut where the earliest stop string begins. */
  text: string;
}

/** Index of the earliest stop string in `text`, or -1. */
export function firstStop(text: string, stops: readonly string[]): number {
  let first = -1;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at !== -1 && (first === -1 || at < first)) first = at;
  }
  return first;
}

/**
 * The stop point of `tokens`, whose first `checked` tokens are known to hold no stop string, or undefined when the
 * text has none yet. Decodes prefixes (not tokens one by one) so multi-byte characters split across tokens and
 * tokenizer decoders that join tokens decode as they will in the final text.
 */
export async function findStop(
  tokens: readonly number[],
  checked: number,
  stops: readonly string[],
  decode: (ids: number[]) => Promise<string>,
): Promise<StopPoint | undefined> {
  if (stops.length === 0 || firstStop(await decode([...tokens]), stops) === -1) return undefined;
  for (let n = checked + 1; n <= tokens.length; n++) {
    const text = await decode(tokens.slice(0, n));
    const at = firstStop(text, stops);
    if (at !== -1) return { tokens: n, text: text.slice(0, at) };
  }
  return undefined;
}
