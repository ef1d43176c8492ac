// The config types train() and evaluate() take, as a consumer of the published declarations (dist/*.d.ts, built
// by `npm run build:ts`) sees them under `strict`: a misspelled key, a wrong value type, an unknown trainer or a key
// of another trainer fails to compile, each with its own message; every key of every schema is accepted with its
// default (and null where it may be null), so the types and the loader take the same keys; the README's
// TypeScript compiles. Loosened back to Record<string, unknown>, the expected errors vanish and this test fails.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load-config.js';
import type { Schema } from '../../src/config/schema.js';
import { trainerSchemas } from '../../src/config/trainer-fields.js';
import { evalSchema, resolveEvalConfig } from '../../src/eval/eval-config.js';
import { tempDir } from '../helpers/fixtures.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'dist');

/** Compiles `files` (name → source; ESM, `alignkit` resolving to dist) under strict: each file's errors by line. */
function compile(files: Record<string, string>): Map<string, Map<number, string[]>> {
  const dir = tempDir('typed-config');
  const paths = Object.entries(files).map(([name, source]) => {
    writeFileSync(join(dir, name), source);
    return join(dir, name);
  });
  const program = ts.createProgram(paths, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
    paths: { alignkit: [join(dist, 'index.d.ts')] },
  });
  const errors = new Map<string, Map<number, string[]>>(Object.keys(files).map((name) => [name, new Map()]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const name = d.file ? paths.indexOf(d.file.fileName) : -1;
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (name < 0) throw new Error(`${d.file?.fileName ?? 'program'}: ${message}`);
    const line = d.file!.getLineAndCharacterOfPosition(d.start!).line + 1;
    const byLine = errors.get(Object.keys(files)[name]!)!;
    byLine.set(line, [...(byLine.get(line) ?? []), message]);
  }
  return errors;
}

/** Lines that must not compile, each with what its error must say. */
const rejected: [string, RegExp][] = [
  [
    "train({ trainer: 'dpo', learnign_rate: 1e-6 });",
    /'learnign_rate' does not exist.*Did you mean to write 'learning_rate'/s,
  ],
  ["train({ trainer: 'dpo', learning_rate: 'oops' });", /Type 'string' is not assignable to type 'number'/],
  [
    "train({ trainer: 'ppo' });",
    /Type '"ppo"' is not assignable to type '.*"online_dpo" \| "orpo" \| "cpo" \| "bco" \| "reward"'/,
  ],
  ['train({ learning_rate: 1e-6 });', /Property 'trainer' is missing/],
  ["train({ trainer: 'kto', packing: true });", /'packing' does not exist in type .*"kto"/],
  ["train({ trainer: 'dpo', num_generations: 4 });", /'num_generations' does not exist in type .*"dpo"/],
  ["train({ trainer: 'sft', lr_scheduler_type: 'cosin' });", /Type '"cosin"' is not assignable/],
  ["train({ trainer: 'sft', lora_target_modules: ['q_proj', 'qkv'] });", /Type '"qkv"' is not assignable/],
  ["train({ trainer: 'dpo', loss_weights: 1 });", /Type 'number' is not assignable to type 'readonly number\[\]'/],
  ["const typed: DpoConfig = { trainer: 'dpo', beta: true };", /Type 'boolean' is not assignable to type 'number'/],
  ['train({} as Record<string, unknown>);', /not assignable to parameter of type 'string \| TrainConfig'/],
  ["evaluate({ model_name_or_path: 'm', ref_modle: 'r' });", /'ref_modle' does not exist/],
  ["evaluate({ max_new_tokens: '24' });", /Type 'string' is not assignable to type 'number'/],
];

/** Lines that must compile: each trainer, the forms a value may take, evaluate(), the demo's paths. */
const accepted = [
  "train('dpo.yaml');",
  "train({ trainer: 'dpo', beta: 0.1, loss_type: 'sigmoid', loss_weights: null, ld_alpha: 0.5 });",
  "train({ trainer: 'dpo', loss_type: ['sigmoid', 'sft'] as const, loss_weights: [1, 0.3] as const });",
  "train({ trainer: 'sft', packing: true, packing_strategy: 'wrapped', dataset_text_field: 'text' });",
  "train({ trainer: 'kto', desirable_weight: 1.5, loss_type: 'apo_zero_unpaired' });",
  "train({ trainer: 'online_dpo', iterations: 2, num_generations: 4, judge_regex: '[A-Z]' }, { judge: undefined });",
  "train({ trainer: 'dpo', use_peft: true, lora_target_modules: 'all-linear', report_to: ['tensorboard'] });",
  "train({ trainer: 'dpo', resume_from_checkpoint: true, output_dir: undefined, model_init_kwargs: { dtype: 'auto' } });",
  "train({ trainer: 'sft', report_to: 'none', max_length: null, model_name_or_path: demoAssets.model });",
  "train(JSON.parse('{}') as TrainConfig);",
  "const sft = { trainer: 'sft', learning_rate: 2e-5 } satisfies SftConfig;",
  "const kto: KtoConfig = { trainer: 'kto' }; const online: OnlineDpoConfig = { trainer: 'online_dpo' };",
  "evaluate({ model_name_or_path: 'out', prompt_dataset: demoAssets.prompts, do_sample: null } satisfies EvalConfig);",
];

const header = `import { demoAssets, evaluate, train, type DpoConfig, type EvalConfig, type KtoConfig, type OnlineDpoConfig,
  type SftConfig, type TrainConfig } from 'alignkit';
`;
const headerLines = header.split('\n').length - 1;

/** A literal object of `schema`'s keys (but trainer), each set to `value(key)`, with `extra` over them. */
function literal(schema: Schema, value: (key: string) => unknown, extra: Record<string, unknown> = {}): string {
  const entries = Object.keys(schema)
    .filter((key) => key !== 'trainer')
    .map((key) => [key, value(key)]);
  return JSON.stringify({ ...Object.fromEntries(entries), ...extra });
}

describe('the config types of train() and evaluate()', () => {
  it('refuse a misspelled key, a wrong value type, an unknown trainer and another trainer’s key, each by name', () => {
    const source = header + [...rejected.map(([code]) => code), ...accepted].join('\n') + '\n';
    const errors = compile({ 'consumer.mts': source }).get('consumer.mts')!;
    rejected.forEach(([code, message], i) => {
      const got = errors.get(headerLines + i + 1) ?? [];
      expect(got.join('\n'), code).toMatch(message);
    });
    accepted.forEach((code, i) => expect(errors.get(headerLines + rejected.length + i + 1), code).toBeUndefined());
  });

  it('take every key of every schema with its default, and null where it may be null, as the loader does', () => {
    const files: Record<string, string> = {};
    for (const [trainer, schema] of Object.entries(trainerSchemas) as [string, Schema][]) {
      const type = `Extract<TrainConfig, { trainer: '${trainer}' }>`;
      const defaults = literal(schema, (key) => schema[key]!.default, { trainer });
      const nulls = literal(schema, (key) => (schema[key]!.nullable ? null : schema[key]!.default), { trainer });
      files[`${trainer}.mts`] =
        `import type { TrainConfig } from 'alignkit';\nexport const defaults: ${type} = ${defaults};\nexport const nulls: ${type} = ${nulls};\n`;
      // The loader takes the same object, every key at its default.
      expect(() => resolveConfig(JSON.parse(defaults)), trainer).not.toThrow();
    }
    const evalDefaults = literal(evalSchema, (key) => evalSchema[key as keyof typeof evalSchema].default, {
      model_name_or_path: 'model',
      eval_dataset: 'rows.jsonl',
    });
    files['eval.mts'] =
      `import type { EvalConfig } from 'alignkit';\nexport const defaults: EvalConfig = ${evalDefaults};\n`;
    expect(() => resolveEvalConfig(JSON.parse(evalDefaults))).not.toThrow();
    for (const [name, errors] of compile(files)) expect([...errors.values()].flat(), name).toEqual([]);
  });

  it("compile the README's TypeScript as a consumer writes it", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .filter((code) => code.includes("from 'alignkit'"));
    expect(blocks.length).toBeGreaterThan(0);
    const files = Object.fromEntries(blocks.map((code, i) => [`readme-${i}.mts`, `${code}\nexport {};\n`]));
    for (const [name, errors] of compile(files)) expect([...errors.values()].flat(), name).toEqual([]);
  });
});

describe('the package root', () => {
  it('exports the demo model and data, as paths that exist', async () => {
    const { demoAssets } = (await import(
      pathToFileURL(join(dist, 'index.js')).href
    )) as typeof import('../../src/index.js');
    expect(Object.keys(demoAssets).sort()).toEqual(['model', 'preferencesEval', 'preferencesTrain', 'prompts', 'sft']);
    expect(existsSync(join(demoAssets.model, 'config.json'))).toBe(true);
    for (const path of [demoAssets.sft, demoAssets.preferencesTrain, demoAssets.preferencesEval, demoAssets.prompts])
      expect(readFileSync(path, 'utf8').length, path).toBeGreaterThan(0);
  });

  it('reads a key set to undefined as a key left out, as the types allow', () => {
    const config = resolveConfig({ trainer: 'dpo', output_dir: undefined, beta: undefined });
    expect(config).toMatchObject({ output_dir: null, beta: 0.1 });
  });
});
