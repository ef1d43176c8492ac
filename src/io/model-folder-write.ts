// Writing a model into a folder that may already hold one (a run's output_dir, `alignkit merge`'s output) the way
// checkpoints are written: everything goes into a hidden temporary folder beside the files it replaces (same file
// system), is fsync'ed, and only then renamed into place. A full disk or a failing write leaves the folder's previous
// files as they were, and the error names the file that failed.
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AlignkitError } from '../errors.js';

const TEMP_DIR = '.model.tmp';

/** Weight files of a model folder, of whichever layout (single file, shards and index): replaced as one set. */
const isWeightFile = (name: string) => name === 'model.safetensors.index.json' || /^model.*\.safetensors$/.test(name);

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs `write(temp)` to write a model folder's files into a temporary folder inside `dir`, then moves them into `dir`
 * (weight files of an earlier layout are removed, other files of `dir` stay). On failure `dir` is unchanged.
 */
export async function writeModelFolder(dir: string, write: (temp: string) => Promise<void>): Promise<void> {
  const temp = join(dir, TEMP_DIR);
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { recursive: true });
  let names: string[];
  try {
    await write(temp);
    names = await readdir(temp);
    for (const name of names) fsyncPath(join(temp, name));
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof AlignkitError ? err.code : 'ERR_IO';
    throw new AlignkitError(code, `saving the model into ${dir} failed, its previous files are unchanged: ${message}`, {
      cause: err,
    });
  }
  for (const name of names) await rename(join(temp, name), join(dir, name));
  await rm(temp, { recursive: true, force: true });
  // A full model replaces the weights of an earlier layout (shards then, one file now); an adapter leaves them.
  if (names.some(isWeightFile)) {
    for (const name of await readdir(dir))
      if (isWeightFile(name) && !names.includes(name)) await rm(join(dir, name), { force: true });
  }
  fsyncPath(dir);
}
