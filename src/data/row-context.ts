// What every dataset format shares: where a row came from (for errors naming file, row and field), column
// renaming, and the per-row chat template context TRL reads (`tools`, `chat_template_kwargs`).
import { AlignkitError } from '../errors.js';

export interface RowLocation {
  file: string;
  row: number;
}

/** Chat template inputs a row may carry, and its location for errors raised later (e.g. by the template). */
export interface RowContext {
  at: RowLocation;
  /** Tool schemas (`tools` column, a list or its JSON text). */
  tools?: unknown[];
  /** Extra chat template variables (`chat_template_kwargs` column). */
  chatTemplateKwargs?: Record<string, unknown>;
}

export function dataError(at: RowLocation, field: string | undefined, message: string): AlignkitError {
  return new AlignkitError(
    'ERR_INVALID_DATA',
    `${at.file}: row ${at.row}${field ? `, field '${field}'` : ''}: ${message}`,
  );
}

/** A short description of an unexpected value for error messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}

/** Renames dataset columns to the names the formats expect: `{ prompt: 'question' }` reads prompt from column question. */
export function mapColumns(
  values: Record<string, unknown>,
  columns: Record<string, unknown> | null,
): Record<string, unknown> {
  if (!columns) return values;
  const out = { ...values };
  for (const [ours, theirs] of Object.entries(columns)) {
    if (typeof theirs === 'string' && theirs in values) {
      delete out[theirs];
      out[ours] = values[theirs];
    }
  }
  return out;
}

export function rowContext(values: Record<string, unknown>, at: RowLocation): RowContext {
  const out: RowContext = { at };
  if (values.tools !== undefined && values.tools !== null) {
    let tools: unknown = values.tools;
    if (typeof tools === 'string') {
      try {
        tools = JSON.parse(tools);
      } catch (err) {
        throw dataError(at, 'tools', `invalid JSON (${(err as Error).message})`);
      }
    }
    if (!Array.isArray(tools)) throw dataError(at, 'tools', `expected a list of tool schemas, got ${describe(tools)}`);
    out.tools = tools;
  }
  if (values.chat_template_kwargs && typeof values.chat_template_kwargs === 'object') {
    out.chatTemplateKwargs = values.chat_template_kwargs as Record<string, unknown>;
  }
  return out;
}
