// Cache keys: a tokenized table is reused only when the data, the tokenizer files and every setting that
// shapes the ids are byte-for-byte the same, as datasets' fingerprints do.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { AlignkitError } from '../errors.js';

// Weights shape no token id: a model folder's are left out, which would be most of its bytes to read (gigabytes
// for a real model) and, read through a stream, tens of MiB of buffers left for the garbage collector.
const WEIGHT_FILES = new Set(['.safetensors', '.bin', '.pt', '.pth', '.ckpt', '.gguf', '.h5', '.msgpack']);

async function hashFile(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  hash.update(`${path}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** Hashes files (folders recursively, in name order, without the weight files in them) and a settings object into a hex key. */
export async function fingerprint(paths: string[], settings: unknown): Promise<string> {
  const hash = createHash('sha256');
  const visit = async (path: string, inFolder: boolean): Promise<void> => {
    if (!existsSync(path)) return;
    const info = statSync(path);
    if (info.isDirectory()) {
      for (const name of (await readdir(path)).sort()) await visit(join(path, name), true);
    } else if (!info.isFile()) {
      // /dev/zero (or a link to it) would be hashed forever, a pipe would block.
      throw new AlignkitError(
        'ERR_INVALID_DATA',
        `${path}: not a regular file (a device, pipe or socket); expected a data or model file`,
      );
    } else if (!(inFolder && WEIGHT_FILES.has(extname(path)))) {
      await hashFile(hash, path);
    }
  };
  for (const path of paths) await visit(path, false);
  hash.update(JSON.stringify(settings));
  return hash.digest('hex');
}
