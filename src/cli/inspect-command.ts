// `alignkit inspect [dir]`: loads a Hugging Face folder the way training will, prints its architecture,
// and runs one forward+backward pass on a seeded random batch — "will alignkit train this checkpoint?".
import type { Command } from 'commander';
import { join } from 'node:path';
import { loadModel } from '../model.js';
import { packageRoot } from '../native.js';
import type { Device, Dtype } from '../types/model.js';

/** The tiny random Llama the tests use; the default so `alignkit inspect` works right after install. */
export const bundledModelDir = join(packageRoot, 'test', 'fixtures', 'models', 'llama');

/** Seeded token ids in [3, vocab): reproducible without pulling in a tokenizer. */
function randomTokens(count: number, vocab: number, seed: number): Int32Array {
  let state = seed >>> 0;
  return Int32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return 3 + (state % (vocab - 3));
  });
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('load a model folder, print its architecture and run one forward+backward pass')
    .argument('[dir]', 'Hugging Face model folder', bundledModelDir)
    .option('--dtype <dtype>', 'float32 | bfloat16 | float16 | auto')
    .option('--device <device>', 'cpu | cuda | cuda:N', 'cpu')
    .option('--batch <n>', 'rows in the test batch', (v) => Number.parseInt(v, 10), 2)
    .option('--seq-len <n>', 'tokens per row', (v) => Number.parseInt(v, 10), 32)
    .action(async (dir: string, options: { dtype?: Dtype; device: Device; batch: number; seqLen: number }) => {
      const started = performance.now();
      const model = await loadModel(dir, { dtype: options.dtype, device: options.device });
      const loadMs = performance.now() - started;
      const c = model.config;
      const params = model.parameters().reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
      console.log(`model      ${dir}`);
      console.log(
        `type       ${c.modelType}: ${c.numLayers} layers, hidden ${c.hiddenSize}, heads ${c.numHeads}/${c.numKvHeads} (q/kv), head_dim ${c.headDim}, vocab ${c.vocabSize}`,
      );
      console.log(`rope       ${c.ropeType}${c.tieWordEmbeddings ? ', tied embeddings' : ''}`);
      console.log(
        `params     ${params.toLocaleString('en-US')} (${c.dtype} on ${c.device}), loaded in ${loadMs.toFixed(0)} ms`,
      );

      const ids = randomTokens(options.batch * options.seqLen, c.vocabSize, 0);
      const stepStart = performance.now();
      const loss = await model.forwardBackward(ids, undefined, { seqLen: options.seqLen });
      const stepMs = performance.now() - stepStart;
      console.log(
        `step       loss ${loss.toFixed(4)} on random tokens (ln vocab = ${Math.log(c.vocabSize).toFixed(4)}), forward+backward ${stepMs.toFixed(0)} ms for ${options.batch}×${options.seqLen} tokens`,
      );
    });
}
