// A config field is data: its kind, TRL's default, and what values it takes. Validation, defaults and
// "did you mean" suggestions all come from these tables, so no default hides elsewhere in the code.
// `Field<T, In>` carries the value's TS type, so a schema also types the parsed config (ConfigOf) and what a
// caller may write (InputOf: the config types train() and evaluate() take, src/types/config-types.ts).

export type FieldKind =
  | { kind: 'number'; min?: number; max?: number }
  | { kind: 'int'; min?: number }
  | { kind: 'string' }
  | { kind: 'boolean' }
  /** A string or true/false, as transformers' `str | bool` fields (resume_from_checkpoint). */
  | { kind: 'stringOrBoolean' }
  | { kind: 'enum'; values: readonly string[] }
  /** A list of enum values; a single value is accepted and wrapped, as TRL does for `loss_type`. */
  | { kind: 'enumList'; values: readonly string[] }
  /** A list of strings; a single string is accepted and wrapped, as TRL does for `loss_type`. */
  | { kind: 'stringList' }
  | { kind: 'numberList' }
  | { kind: 'object' }
  /** Any YAML value (keys whose TRL type is a union alignkit only notes or refuses, e.g. `deepspeed`: path or dict). */
  | { kind: 'any' };

export type Field<T = unknown, In = T> = FieldKind & {
  default: T;
  /** null is a valid value (TRL's `Optional[...]` fields). */
  nullable: boolean;
  /** Accepted, but has no effect in alignkit: why. Printed once as a note when a config sets the key to another value than its default. */
  noEffect?: string;
  /** Refused before any work when a config sets the key to another value than its default: why (and what to use instead). */
  refused?: string;
  /** With `refused`: only these values are refused (the key's other values are implemented). */
  refusedValues?: readonly unknown[];
  /** Type-level only, never set: what a caller may write, where the loader takes more than T (one value for a list). */
  readonly input?: In;
};

export type Schema = Record<string, Field>;
export type ConfigOf<S extends Schema> = { -readonly [K in keyof S]: S[K] extends Field<infer T, unknown> ? T : never };
/** A list may be written readonly (`as const`): the loader never changes what it is given. */
type Writable<V> = V extends readonly (infer E)[] ? readonly E[] : V;
/** What a caller may write: any key may be left out (its default fills it in), each value as its field takes it. */
export type InputOf<S extends Schema> = {
  -readonly [K in keyof S]?: S[K] extends Field<unknown, infer In> ? Writable<In> : never;
};

type Nullable<T, D> = D extends null ? T | null : T;

export const num = <D extends number | null>(
  def: D,
  range: { min?: number; max?: number } = {},
): Field<Nullable<number, D>> => ({
  kind: 'number',
  default: def as Nullable<number, D>,
  nullable: def === null,
  ...range,
});
export const int = <D extends number | null>(def: D, min?: number): Field<Nullable<number, D>> => ({
  kind: 'int',
  default: def as Nullable<number, D>,
  nullable: def === null,
  min,
});
export const str = <D extends string | null>(def: D): Field<Nullable<string, D>> => ({
  kind: 'string',
  default: def as Nullable<string, D>,
  nullable: def === null,
});
export const bool = <D extends boolean | null>(def: D): Field<Nullable<boolean, D>> => ({
  kind: 'boolean',
  default: def as Nullable<boolean, D>,
  nullable: def === null,
});
export const strOrBool = <D extends string | boolean | null>(def: D): Field<Nullable<string | boolean, D>> => ({
  kind: 'stringOrBoolean',
  default: def as Nullable<string | boolean, D>,
  nullable: def === null,
});
export const oneOf = <const V extends readonly string[], D extends V[number] | null>(
  values: V,
  def: D,
): Field<Nullable<V[number], D>> => ({
  kind: 'enum',
  values,
  default: def as Nullable<V[number], D>,
  nullable: def === null,
});
export const listOf = <const V extends readonly string[]>(
  values: V,
  def: V[number][],
): Field<V[number][], V[number] | V[number][]> => ({
  kind: 'enumList',
  values,
  default: def,
  nullable: false,
});
export const strings = (def: string[]): Field<string[], string | string[]> => ({
  kind: 'stringList',
  default: def,
  nullable: false,
});
export const numbers = (def: null): Field<number[] | null> => ({ kind: 'numberList', default: def, nullable: true });
export const obj = (def: null): Field<Record<string, unknown> | null> => ({
  kind: 'object',
  default: def,
  nullable: true,
});
export const anyValue = <D>(def: D): Field<unknown> => ({ kind: 'any', default: def, nullable: true });
/** A field whose TRL type is Optional although its default is not None (e.g. `max_length`). */
export const orNull = <T, In>(field: Field<T, In>): Field<T | null, In | null> => ({ ...field, nullable: true });

/** A TRL key alignkit accepts without effect; `why` is printed when a config sets it (see Field.noEffect). */
export const noEffect = <T, In>(field: Field<T, In>, why: string): Field<T, In> => ({ ...field, noEffect: why });
/**
 * A TRL key alignkit refuses unless left at its default, or only when set to one of `values`; `why` is the error
 * (see Field.refused).
 */
export const refused = <T, In>(field: Field<T, In>, why: string, values?: readonly NoInfer<T>[]): Field<T, In> => ({
  ...field,
  refused: why,
  ...(values && { refusedValues: values }),
});
