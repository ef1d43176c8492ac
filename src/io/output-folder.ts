// Checks on a folder a command is about to write (a run's output_dir, `alignkit merge`'s output), made before any
// work: it must not be, nor lie inside, a folder the command reads a model from (the save would overwrite that model,
// for good), and it must be a folder this process can create and write. Paths are compared as real paths, so
// `model/./`, `model/../model` and a symlink to the model folder are all the model folder.
import { accessSync, constants, existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AlignkitError } from '../errors.js';

/** A folder the command reads, named by the key (or argument) it came from. */
export interface InputFolder {
  key: string;
  path: string;
}

/** The real path of `path`, also when its last parts do not exist yet: the nearest existing ancestor's real path, then the rest. */
export function realPathOf(path: string): string {
  let head = resolve(path);
  const rest: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(head), ...rest);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return resolve(path);
    }
    const parent = dirname(head);
    if (parent === head) return resolve(path);
    rest.unshift(basename(head));
    head = parent;
  }
}

/** True when `inner` is `outer` or lies inside it (both real, absolute paths). */
export function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

/**
 * Refuses an output folder that is, or lies inside, one of `inputs` (those that exist here; a hub id that is not a
 * local folder is left out). Names both paths and the real path they share.
 */
export function refuseOutputOverInputs(output: InputFolder, inputs: InputFolder[]): void {
  const out = realPathOf(output.path);
  for (const input of inputs) {
    if (!input.path || !existsSync(input.path)) continue;
    const real = realPathOf(input.path);
    if (!within(out, real)) continue;
    const same = out === real;
    const how = same
      ? `is the same folder as ${input.key} ${input.path} (both are ${real})`
      : `lies inside ${input.key} ${input.path} (${out} is inside ${real})`;
    const harm = same
      ? 'saving there would overwrite the model it reads'
      : 'saving there would write into the model folder it reads';
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `${output.key} ${output.path} ${how}: ${harm}; choose another ${output.key}`,
    );
  }
}

/** Why a folder cannot be created or written, in words, from a system error code. */
function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'ENOTDIR') return 'a part of the path is a file, not a folder';
  if (code === 'ENOSPC') return 'no space left on the device';
  return code ?? (err as Error).message;
}

/**
 * Creates `path` (with its parents) unless it exists, and checks that it is a folder this process can write: a
 * file in the way, a read-only mount or a missing permission is one AlignkitError naming the key and the path.
 */
export function ensureWritableFolder(key: string, path: string): void {
  let info;
  try {
    info = statSync(path, { throwIfNoEntry: false });
  } catch (err) {
    throw new AlignkitError('ERR_IO', `${key} ${path} cannot be created: ${reason(err)}`, { cause: err });
  }
  if (info && !info.isDirectory()) {
    throw new AlignkitError(
      'ERR_IO',
      `${key} ${path} is a file, not a folder: choose a folder path (it is created if missing)`,
    );
  }
  try {
    if (!info) mkdirSync(path, { recursive: true });
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new AlignkitError('ERR_IO', `${key} ${path} cannot be ${info ? 'written' : 'created'}: ${reason(err)}`, {
      cause: err,
    });
  }
}
