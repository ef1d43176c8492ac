// What a config's TRL keys without effect or refused in alignkit come to (schema.ts: Field.noEffect, Field.refused):
// a refusal is an error at config load, before any work; a key without effect is one printed note when training starts.
import { isDeepStrictEqual } from 'node:util';
import type { Field, Schema } from './schema.js';

const shown = (value: unknown) => JSON.stringify(value);

/** Whether `value` is the field's default (a key left at it is neither noted nor refused). */
export function isDefault(field: Field, value: unknown): boolean {
  return isDeepStrictEqual(value, field.default);
}

/** Why `key: value` is refused, or undefined when it is not. */
export function refusalOf(key: string, field: Field, value: unknown): string | undefined {
  if (field.refused === undefined) return undefined;
  const refusedValue = field.refusedValues
    ? field.refusedValues.some((v) => isDeepStrictEqual(v, value))
    : !isDefault(field, value);
  return refusedValue ? `${key}: ${shown(value)} is not supported: ${field.refused}` : undefined;
}

/** One note per key the config sets, away from its default, to a value that has no effect in alignkit. */
export function configNotes(config: Record<string, unknown>, schema: Schema): string[] {
  const notes: string[] = [];
  for (const [key, field] of Object.entries(schema)) {
    if (field.noEffect === undefined || !(key in config) || isDefault(field, config[key])) continue;
    notes.push(`note: ${key}: ${shown(config[key])} has no effect in alignkit: ${field.noEffect}`);
  }
  return notes;
}
