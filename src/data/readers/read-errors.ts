// The errors readers raise, and what happens to a row that cannot be read: an error, or a reported skip.
import { AlignkitError } from '../../errors.js';
import type { ReadOptions } from './types.js';

/** ERR_INVALID_DATA for one row: `<file>: row <row>[ (line <line>)]: <what>`. */
export function rowError(file: string, row: number, line: number | undefined, what: string): AlignkitError {
  const where = line === undefined ? `row ${row}` : `row ${row} (line ${line})`;
  return new AlignkitError('ERR_INVALID_DATA', `${file}: ${where}: ${what}`);
}

/** ERR_INVALID_DATA for a whole file that is not what its format promises; `cause` is the library's error. */
export function fileError(file: string, what: string, cause?: unknown): AlignkitError {
  if (cause instanceof AlignkitError) return cause;
  const detail = cause instanceof Error ? ` (${cause.message})` : '';
  return new AlignkitError('ERR_INVALID_DATA', `${file}: ${what}${detail}`, { cause });
}

/**
 * Throws `error`, or with `skipInvalidRows` hands it to `onSkip`. Without an `onSkip` the skip still
 * shows, as a process warning: a row is never dropped silently.
 */
export function rejectRow(error: AlignkitError, options: ReadOptions): void {
  if (!options.skipInvalidRows) throw error;
  if (options.onSkip) options.onSkip(error);
  else process.emitWarning(`skipped ${error.message}`, { code: 'ALIGNKIT_SKIPPED_ROW' });
}
