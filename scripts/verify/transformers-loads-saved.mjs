// `npm run verify:transformers`: every fixture family is loaded and saved by alignkit, then loaded by Python
// transformers (scripts/verify/transformers_loads_saved.py), which must reproduce alignkit's logits.
// Needs the Python reference environment (scripts/fixtures/python-env.sh), so it is not part of `npm test`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../dist/index.js';
import { writeSafetensors } from './write-safetensors.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const python = execFileSync('bash', [join(root, 'scripts', 'fixtures', 'python-env.sh')], { encoding: 'utf8' }).trim();
const work = mkdtempSync(join(tmpdir(), 'alignkit-verify-'));
const ids = Int32Array.from({ length: 24 }, (_, i) => 3 + ((i * 37) % 250));

for (const name of ['llama', 'llama3-tied', 'mistral', 'qwen2', 'qwen3']) {
  const model = await loadModel(join(root, 'test', 'fixtures', 'models', name));
  const saved = join(work, name);
  await model.save(saved);
  const { data, shape } = await model.logits(ids, undefined, { seqLen: 12 });
  const logitsFile = join(work, `${name}-logits.safetensors`);
  writeSafetensors(logitsFile, {
    input_ids: { dtype: 'I32', shape: [2, 12], data: ids },
    logits: { dtype: 'F32', shape, data },
  });
  execFileSync(python, [join(root, 'scripts', 'verify', 'transformers_loads_saved.py'), saved, logitsFile], {
    stdio: 'inherit',
  });
}
