// The scratch folder a probe case runs in, and what the runner checks around it: the case's files before and after
// (nothing may change outside its output_dir), a small DPO config, and copies of the fixture models to break.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixtures = join(root, 'test', 'fixtures');
export const cli = join(root, 'dist', 'cli', 'main.js');
export const dpoRows = join(fixtures, 'trl', 'dpo-train.jsonl');

/** Stands in for /etc/passwd: no output file and no message may contain it. */
export const SECRET = 'root:x:0:0:PROBE-SECRET-51c2:/root:/bin/bash\n';

/** A copy of fixture model `name` at `dir/<as>`; its path. */
export function model(dir, name = 'llama', as = name) {
  const path = join(dir, as);
  cpSync(join(fixtures, 'models', name), path, { recursive: true });
  return path;
}

/** Writes a YAML training config: a 2-step DPO run on the llama fixture, `fields` overriding its keys. */
export function config(dir, fields = {}, name = 'config.yaml') {
  const base = {
    trainer: 'dpo',
    model_name_or_path: join(fixtures, 'models', 'llama'),
    train_dataset: dpoRows,
    output_dir: join(dir, 'out'),
    bf16: false,
    use_cpu: true,
    max_steps: 2,
    logging_steps: 1,
    save_strategy: 'no',
    per_device_train_batch_size: 2,
    gradient_checkpointing: false,
  };
  const path = join(dir, name);
  writeFileSync(
    path,
    Object.entries({ ...base, ...fields })
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n') + '\n',
  );
  return path;
}

/** Every entry under `dir` (not following links) with a hash of what it holds, leaving out the `skip` folders. */
export function snapshot(dir, skip = []) {
  const out = {};
  const visit = (path) => {
    if (skip.some((s) => path === s || path.startsWith(`${s}/`))) return;
    const info = lstatSync(path);
    const rel = relative(dir, path);
    if (info.isSymbolicLink()) out[rel] = `link ${readlinkSync(path)}`;
    else if (info.isDirectory()) for (const name of readdirSync(path).sort()) visit(join(path, name));
    else if (info.isFile()) out[rel] = createHash('sha256').update(readFileSync(path)).digest('hex');
    else out[rel] = 'special';
  };
  if (existsSync(dir)) visit(dir);
  return out;
}

/** The entries of `before` that differ in `after` (changed, removed or added). */
export function changed(before, after) {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((name) => before[name] !== after[name]).sort();
}

/** Whether a file under `dir` (an output folder) holds the secret's text. */
export function secretLeaked(dir) {
  if (!existsSync(dir)) return false;
  for (const name of readdirSync(dir, { recursive: true })) {
    const path = join(dir, name);
    if (lstatSync(path).isFile() && readFileSync(path).includes('PROBE-SECRET')) return true;
  }
  return false;
}
