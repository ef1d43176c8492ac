// The published declarations (dist/*.d.ts, built with stripInternal by `npm run build:ts`) as a consumer of the
// package sees them: a small program using the public API type-checks against dist/index.d.ts with skipLibCheck
// off (a stripped internal that a public type still names would leave a broken .d.ts), and the internals marked
// @internal (the addon's handles) are not part of them.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'dist');

const consumer = (index: string) => `
import {
  AlignkitError, createOptimizer, DataParallel, evaluate, generate, generateTokenIds, loadModel, Model, train, Tokenizer,
  type CompletionLogProbs, type DpoStepOptions, type DpoStepResult, type Generation, type GradientSyncStats,
  type KtoStepResult, type LogEntry, type ModelConfig, type SftStepResult, type Tensor, type TrainOptions,
} from ${JSON.stringify(index)};

export async function use(dir: string): Promise<void> {
  const model: Model = await loadModel(dir, { dtype: 'float32', device: 'cpu' });
  const config: ModelConfig = model.config;
  const logits: Tensor = await model.logits([[1, 2, 3]]);
  const logps: CompletionLogProbs = await model.completionLogProbs([[1, 2, 3]], undefined, [[0, 1, 1]]);
  const options: DpoStepOptions = { beta: 0.1, loss_type: ['sigmoid'], bf16: false, lossScale: 1 };
  const dpo: DpoStepResult = await model.dpoStep({ inputIds: [[1, 2], [1, 3]], completionMask: [[0, 1], [0, 1]] }, 'base', options);
  const kto: KtoStepResult = await model.ktoStep(
    { inputIds: [[1, 2]], completionMask: [[0, 1]], labels: Uint8Array.of(1) }, Float32Array.of(0), { kl: 0 });
  const sft: SftStepResult = await model.sftStep({ inputIds: [[1, 2]], labels: [[-100, 2]] });
  const one: Generation = await generate(model, 'Hello', { max_new_tokens: 2 });
  const many: Generation[] = await model.generate(['a', 'b'], { tokenizer: await Tokenizer.load(dir) });
  const ids = await generateTokenIds(model, [[1, 2]], { max_new_tokens: 2 });
  const optimizer = await createOptimizer(model, { learning_rate: 1e-5 }, { group: DataParallel.single, zeroStage: 0 });
  const stats: GradientSyncStats = DataParallel.single.gradientSyncStats();
  const run: TrainOptions = { onLog: (entry: LogEntry) => void entry.loss };
  const result = await train({ trainer: 'dpo' }, run);
  const scores = await evaluate({}, {});
  // @ts-expect-error the addon handle is internal: stripped from the declarations
  model.nativeHandle();
  void [config, logits, logps, dpo, kto, sft, one, many, ids, optimizer, stats, result, scores, new AlignkitError('ERR_INVALID_ARG', 'x')];
}
`;

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('dist declarations', () => {
  it('type-check for a consumer of the public API, with skipLibCheck off', () => {
    const dir = tempDir('consumer');
    const file = join(dir, 'consumer.ts');
    writeFileSync(file, consumer(join(dist, 'index.js')));
    const program = ts.createProgram([file], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
    });
    // Our own declarations and the consumer only: third-party .d.ts files are not ours to check.
    const ours = (f: ts.SourceFile | undefined) => !f || f.fileName === file || f.fileName.startsWith(dist);
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => ours(d.file));
    const text = ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    });
    expect(text).toBe('');
    // The consumer reached the declarations of the whole public surface.
    expect(program.getSourceFiles().some((f) => f.fileName === join(dist, 'types', 'steps.d.ts'))).toBe(true);
  });

  it('leave out what is marked @internal', () => {
    const all = declarationFiles(dist)
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    for (const name of [
      'NativeModel',
      'NativeAddon',
      'NativeProcessGroup',
      'NativeOptimizer',
      'nativeHandle(',
      'nativeGroup(',
      'generateText',
      'ResolvedOptions',
    ]) {
      expect(all, name).not.toContain(name);
    }
    // The class a consumer gets from loadModel, without its internal constructor argument.
    expect(readFileSync(join(dist, 'model.d.ts'), 'utf8')).not.toMatch(/constructor\(handle/);
  });
});
