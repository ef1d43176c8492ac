// Cache keys: a tokenized table is reused only when the data, the tokenizer files and every setting that
// shapes the ids are byte-for-byte the same, as datasets' fingerprints do.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

async function hashFile(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  hash.update(`${path}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** Hashes files (folders recursively, in name order) and a settings object into a hex key. */
export async function fingerprint(paths: string[], settings: unknown): Promise<string> {
  const hash = createHash('sha256');
  const visit = async (path: string): Promise<void> => {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const name of (await readdir(path)).sort()) await visit(join(path, name));
    } else {
      await hashFile(hash, path);
    }
  };
  for (const path of paths) await visit(path);
  hash.update(JSON.stringify(settings));
  return hash.digest('hex');
}
