// Where a JSON.parse failure is, without the text: V8's messages quote the characters they stopped at
// (`Unexpected token 'r', "root:x:0:0"... is not valid JSON`), and a file that is not what it claims (a link to
// /etc/shadow named tokenizer.json or data.jsonl) must not reach an error message that way.

/** Messages of a text that is valid so far and only ends too soon. */
const INCOMPLETE =
  /end of JSON input|Unterminated string|No number after minus sign|Exponent part is missing|Unterminated fractional number/;

/** Whether `prefix` could still be the start of a JSON text: it parses, or fails only at its very end. */
function validSoFar(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message)?.[1];
    return INCOMPLETE.test(message) || (at !== undefined && Number(at) >= prefix.length);
  }
}

/** "at line L, column C" of the first character JSON.parse refused in `text` (`err` is its error); "it ends early" at a truncated text. */
export function jsonErrorPlace(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : '';
  if (/end of JSON input/.test(message)) return 'it ends early';
  let offset = Number(/at position (\d+)/.exec(message)?.[1] ?? NaN);
  if (Number.isNaN(offset)) {
    // V8 names no position for an unexpected token: the longest prefix that is valid so far ends before it.
    let [lo, hi] = [0, text.length];
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (validSoFar(text.slice(0, mid))) lo = mid;
      else hi = mid;
    }
    offset = lo;
  }
  const before = text.slice(0, offset).split('\n');
  return `at line ${before.length}, column ${before.at(-1)!.length + 1}`;
}
