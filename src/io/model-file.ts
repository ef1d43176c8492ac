// Reading the small text files of a model folder (tokenizer.json, tokenizer_config.json, generation_config.json,
// adapter_config.json): only regular files (a link to /dev/zero would never end), and errors that say what was
// expected without quoting the bytes read. A link such as tokenizer.json -> /etc/shadow must not print
// `Unexpected token 'r', "root:*:202"...`: V8's JSON.parse messages quote the text, so they are not passed on.
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AlignkitError, type AlignkitErrorCode } from '../errors.js';
import { jsonErrorPlace } from './json-error.js';
import { within } from './output-folder.js';

/** The file's text, or undefined when it does not exist; a folder, device or pipe is an error naming it. */
export async function readModelText(
  path: string,
  code: AlignkitErrorCode = 'ERR_INVALID_MODEL',
): Promise<string | undefined> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new AlignkitError(code, `${path}: cannot be read (${err.code ?? err.message})`, { cause: err });
  });
  if (!info) return undefined;
  if (!info.isFile()) throw new AlignkitError(code, `${path}: not a regular file (expected a JSON or text file)`);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new AlignkitError(
      code,
      `${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      { cause: err },
    );
  }
}

/** `text` parsed as JSON; a syntax error names the file and the position (line, column), never the text. */
export function parseModelJson(text: string, path: string, code: AlignkitErrorCode = 'ERR_INVALID_MODEL'): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const place = jsonErrorPlace(err, text);
    throw new AlignkitError(code, `${path}: not valid JSON (${place}); expected a JSON object`);
  }
}

/** A JSON object file of a model folder, or undefined when absent. */
export async function readModelJson(
  path: string,
  code: AlignkitErrorCode = 'ERR_INVALID_MODEL',
): Promise<Record<string, unknown> | undefined> {
  const text = await readModelText(path, code);
  if (text === undefined) return undefined;
  const value = parseModelJson(text, path, code);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new AlignkitError(code, `${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/** Weights are read and written anew, never copied: a link to weights kept elsewhere is fine. */
const isWeightFile = (name: string) => name.endsWith('.safetensors') || name.endsWith('.index.json');

/**
 * Refuses a model folder whose files (other than weights) include a link resolving outside it: a saved model copies
 * the tokenizer and generation files of the folder it came from, and must not copy /etc/shadow named tokenizer.model.
 * A Hugging Face hub cache snapshot (models--org--name/snapshots/<revision>/) links into its repository's blobs/,
 * which is allowed. `key` says which input the folder is (model_name_or_path...).
 */
export function refuseLinksOutside(dir: string, key: string): void {
  let root: string;
  try {
    root = realpathSync(dir);
  } catch {
    return; // not a local folder (a hub id): the hub cache's own checks apply
  }
  const blobs = basename(dirname(root)) === 'snapshots' ? join(dirname(dirname(root)), 'blobs') : undefined;
  const roots = [root, ...(blobs && existsSync(blobs) ? [realpathSync(blobs)] : [])];
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return; // a file or an unreadable folder: loading it reports that
  }
  for (const entry of entries) {
    if (!entry.isSymbolicLink() || isWeightFile(entry.name)) continue;
    let target: string;
    try {
      target = realpathSync(join(root, entry.name));
    } catch {
      continue; // a dangling link is no file to copy
    }
    if (!roots.some((r) => within(target, r))) {
      throw new AlignkitError(
        'ERR_INVALID_MODEL',
        `${join(dir, entry.name)} (in ${key}) is a link to a file outside the model ` +
          "folder; models alignkit saves carry only the folder's own files (replace the link with a copy of the file)",
      );
    }
  }
}
