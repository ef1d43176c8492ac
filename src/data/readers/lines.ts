// A file's lines, streamed: memory holds one read chunk (64 KiB) plus the line being assembled.
import { createReadStream } from 'node:fs';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Each line of `path` as bytes, without its `\n` or `\r\n`. Splitting on the byte 0x0A never cuts a
 * UTF-8 character (no multi-byte sequence contains it); decoding is left to the caller, so it can
 * report invalid UTF-8 per line. Breaking out of the loop ends the `for await` below, which closes the file.
 */
export async function* readLines(path: string): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      pending.push(chunk.subarray(start, end));
      yield withoutCarriageReturn(pending);
      pending = [];
      start = end + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) yield withoutCarriageReturn(pending);
}

function withoutCarriageReturn(parts: Buffer[]): Buffer {
  const line = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return line.at(-1) === CARRIAGE_RETURN ? line.subarray(0, -1) : line;
}
