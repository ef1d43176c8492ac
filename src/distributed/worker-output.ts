// A worker's output as the launcher shows it: whole lines, each prefixed with the worker's rank so that the
// interleaved output of N workers stays readable; the last lines of stderr are kept for the failure report.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** The last `size` lines seen, oldest first. */
export class LineTail {
  readonly lines: string[] = [];

  constructor(readonly size: number) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.shift();
  }
}

/**
 * Copies `stream` to `sink` one line at a time (one write per line, so lines of different workers never mix),
 * each line prefixed `[rank N] `; a last line without a newline is written too. Resolves when the stream ends.
 */
export function copyPrefixedLines(stream: Readable, rank: number, sink: Writable, tail?: LineTail): Promise<void> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => {
    sink.write(`[rank ${rank}] ${line}\n`);
    tail?.push(line);
  });
  return new Promise((resolve) => lines.once('close', resolve));
}
