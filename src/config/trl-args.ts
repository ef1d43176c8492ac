// TRL's command line, `trl dpo --config recipe.yaml --learning_rate 1e-6`, read as TrlParser (on transformers'
// HfArgumentParser) reads it: the recipe (here also as the first positional argument), then `--key value` flags
// typed by the key's field. `--key=value` and `--key-with-dashes` work; a true/false key takes `--key` alone for
// true, or a value (yes/no, true/false, t/f, y/n, 1/0) and `--no_key` for false; a list key takes several values
// (`--loss_type sigmoid sft`); `none`/`null` is null for a key that may be null and is not a string; a mapping
// is written as JSON (`--lr_scheduler_kwargs '{"min_lr_rate": 0.1}'`).
import { parse } from 'yaml';
import { AlignkitError } from '../errors.js';
import { legacySpelling } from './legacy-fields.js';
import { closestName } from './load-config.js';
import type { Field, Schema } from './schema.js';

export interface TrlArgs {
  /** The recipe: the positional argument, or `--config`'s. */
  configPath?: string;
  /** Each flag's value by key (the last of a repeated flag), not yet checked against its field. */
  flags: Record<string, unknown>;
}

const TRUE = ['yes', 'true', 't', 'y', '1'];
const FALSE = ['no', 'false', 'f', 'n', '0'];
const isBoolean = (text: string) => [...TRUE, ...FALSE].includes(text.toLowerCase());
const isFlag = (token: string | undefined) => token !== undefined && token.startsWith('--');
const isNone = (text: string) => ['none', 'null'].includes(text.toLowerCase());

/** The command line's tokens, read left to right. */
class Tokens {
  #at = 0;
  constructor(private readonly args: readonly string[]) {}
  get done(): boolean {
    return this.#at >= this.args.length;
  }
  peek(): string | undefined {
    return this.args[this.#at];
  }
  take(): string {
    return this.args[this.#at++]!;
  }
}

/** `args` after `alignkit <trainer>`: the recipe path and the flags, by `schema`'s keys (and their old spellings). */
export function parseTrlArgs(args: readonly string[], schema: Schema, trainer: string): TrlArgs {
  const error = (message: string) => new AlignkitError('ERR_INVALID_CONFIG', `alignkit ${trainer}: ${message}`);
  const out: TrlArgs = { flags: {} };
  const setRecipe = (path: string) => {
    if (out.configPath !== undefined) throw error(`one recipe at a time: got ${out.configPath} and ${path}`);
    out.configPath = path;
  };
  const tokens = new Tokens(args);
  while (!tokens.done) {
    const token = tokens.take();
    if (!isFlag(token)) {
      setRecipe(token);
      continue;
    }
    const eq = token.indexOf('=');
    const name = (eq < 0 ? token.slice(2) : token.slice(2, eq)).replaceAll('-', '_');
    const flag: Flag = { name, inline: eq < 0 ? undefined : token.slice(eq + 1), tokens, error };
    if (name === 'config') {
      setRecipe(value(flag));
      continue;
    }
    const legacy = schema[name] ? undefined : legacySpelling(name, trainer);
    const field = schema[name] ?? (legacy && (legacy.boolean ? BOOLEAN : schema[legacy.to]));
    if (field) {
      out.flags[name] = flagValue(flag, field);
      continue;
    }
    if (name.startsWith('no_') && schema[name.slice(3)]?.kind === 'boolean' && flag.inline === undefined) {
      out.flags[name.slice(3)] = false;
      continue;
    }
    const hint = closestName(name, Object.keys(schema));
    throw error(`unknown flag --${name}${hint ? ` (did you mean --${hint}?)` : ''}`);
  }
  return out;
}

const BOOLEAN: Field = { kind: 'boolean', default: false, nullable: false };

interface Flag {
  name: string;
  /** The value written `--key=value`. */
  inline: string | undefined;
  tokens: Tokens;
  error: (message: string) => AlignkitError;
}

/** The flag's one value: after `=`, else the next token (which must not be a flag). */
function value({ name, inline, tokens, error }: Flag): string {
  if (inline !== undefined) return inline;
  if (tokens.done || isFlag(tokens.peek())) throw error(`--${name} needs a value`);
  return tokens.take();
}

/**
 * A true/false flag's value: after `=`, else the next token when it is one (or none/null for a key that may be null;
 * for str|bool keys any word), else 'true'.
 */
function optionalValue(flag: Flag, field: Field): string {
  if (flag.inline !== undefined) return flag.inline;
  const next = flag.tokens.peek();
  const taken =
    next !== undefined &&
    !isFlag(next) &&
    (field.kind === 'stringOrBoolean' || isBoolean(next) || (field.nullable && isNone(next)));
  return taken ? flag.tokens.take() : 'true';
}

function flagValue(flag: Flag, field: Field): unknown {
  const { name, error } = flag;
  const bool = (text: string) => TRUE.includes(text.toLowerCase());
  switch (field.kind) {
    case 'boolean': {
      const text = optionalValue(flag, field);
      if (field.nullable && isNone(text)) return null;
      if (!isBoolean(text)) throw error(`--${name} takes yes/no, true/false, t/f, y/n or 1/0, got '${text}'`);
      return bool(text);
    }
    case 'stringOrBoolean': {
      const text = optionalValue(flag, field);
      return isNone(text) ? null : isBoolean(text) ? bool(text) : text;
    }
    case 'enumList':
    case 'stringList':
    case 'numberList': {
      const values = [value(flag)];
      while (flag.inline === undefined && !flag.tokens.done && !isFlag(flag.tokens.peek()))
        values.push(flag.tokens.take());
      return field.kind === 'numberList'
        ? values.map((v) => (v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v))
        : values;
    }
    case 'object': {
      const text = value(flag);
      if (field.nullable && isNone(text)) return null;
      if (!text.trimStart().startsWith('{')) return text;
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw error(`--${name} is not valid JSON (${(err as Error).message})`);
      }
    }
    case 'any':
      // A path, a word, a number or JSON, as YAML reads the same text in a recipe.
      return parse(value(flag)) as unknown;
    case 'string':
      return value(flag);
    default: {
      const text = value(flag);
      return field.nullable && isNone(text) ? null : text;
    }
  }
}
