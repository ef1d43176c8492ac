// The `columns` option: checked against a file's schema or header, or picked from a schemaless row.
import { AlignkitError } from '../../errors.js';

/** Throws ERR_INVALID_DATA naming the first wanted column the file does not have, and the ones it has. */
export function checkColumns(wanted: readonly string[], available: readonly string[], file: string): void {
  const missing = wanted.find((name) => !available.includes(name));
  if (missing !== undefined) {
    throw new AlignkitError('ERR_INVALID_DATA', `${file}: no column '${missing}' (it has: ${available.join(', ')})`);
  }
}

/** The wanted keys a JSON row has (a JSON file has no schema, so a row may lack some). */
export function pickColumns(
  values: Record<string, unknown>,
  wanted: readonly string[] | undefined,
): Record<string, unknown> {
  if (!wanted) return values;
  return Object.fromEntries(wanted.filter((name) => Object.hasOwn(values, name)).map((name) => [name, values[name]]));
}
