// The alignment-handbook's recipes run unchanged through `alignkit dpo|sft|orpo recipe.yaml` (issues 16, 22): the
// recipes of test/fixtures/recipes/ (copied verbatim but for push_to_hub: false and report_to: [tensorboard]) with
// their hub ids found in test/fixtures/hub-cache (tiny stand-in models and datasets under the real ids, laid out as
// huggingface_hub's cache; HF_HUB_OFFLINE=1), both written by scripts/fixtures/make_handbook_recipes.py.
//
// Each run: exit code 0; the step count the recipe's mixture gives (test_split_size, weights, batch sizes); the
// model saved in the dtype the recipe loads; one note for each key of the recipe that has no effect here; the
// TensorBoard event file under output_dir/runs/<time>_<host>/ holding every logged number under transformers' tags.
// The Zephyr DPO recipe's metrics equal TRL 1.13's on the same mixture (test/fixtures/trl/handbook-zephyr-dpo.json).
// At the recipe's learning rate (5e-7 for 20 steps) the policy barely leaves the reference: the rewards, β·(policy −
// reference) log-ratios, are 1e-8 to 1e-5, and rewards/accuracies (the share of pairs whose margin is > 0) counts
// signs of margins that sit at the float rounding of the log-prob sums (~90, so ~1e-5 apart in float32): a pair may
// fall on either side of 0, the more so in bfloat16. So accuracies are bounded in pairs, the rewards absolutely;
// log-probs, loss, grad_norm, logits, entropy, learning_rate and num_tokens carry the comparison.
//   as it is (bf16 autocast, a log every 10 steps): 1e-3 relative (measured: ≤ 8.5e-5, grad_norm), rewards 1e-4
//     absolute (measured ≤ 3e-6), accuracies 8 of a window's 160 pairs, 20 of the 2000 eval pairs (measured 0;
//     3 of 160 on an earlier draw of the fixture texts).
//   with `--bf16 false --logging_steps 1`: every step in float32, 1e-4 relative at step 1 and 1e-3 after, 1e-6
//     absolute, as the TRL train parity tests (test/train/dpo-train.test.ts) (measured ≤ 1.1e-7); accuracies 1 of a
//     step's 16 pairs (measured: one at step 3, where margins are ~1e-8), 2 of the 2000 eval pairs.
//
// Overrides, as TRL's parser takes them: `--output_dir` on every run (the recipes write under data/); the strict
// Zephyr run above; `--max_steps 3` for smollm2, whose three epochs (60 steps on bfloat16 weights) and final
// evaluation took most of the file's time on their own: it still loads, mixes, evaluates (at the last step) and saves
// as the recipe says, and its logged epoch (0.15 after 3 of 20 steps) shows the epoch it would run. The others run
// their whole mixture and epochs (20, 7 and 15 steps).
import { spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, readSync, readdirSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { readEvents } from '../report/event-reader.js';
import { fixturesDir, tempDir } from '../helpers/fixtures.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const recipesDir = join(fixturesDir, 'recipes');
type Entry = Record<string, number>;
interface TrlRun {
  name: string;
  overrides: Record<string, string>;
  log_history: Entry[];
}
const trl = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'handbook-zephyr-dpo.json'), 'utf8')) as {
  runs: TrlRun[];
};

const trlOrpo = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'handbook-zephyr-141b-orpo.json'), 'utf8')) as {
  cpu_overrides: Record<string, string>;
  runs: TrlRun[];
};

const trlOldOrpo = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'handbook-old-orpo.json'), 'utf8')) as {
  cpu_overrides: Record<string, string>;
  recipes: Record<string, { recipe: string; runs: TrlRun[] }>;
};

interface Run {
  out: string;
  output: string;
  metrics: Entry[];
}

/** `alignkit <trainer> <recipe> --output_dir <tmp> ...flags` against the fixture hub cache, offline. */
function runRecipe(trainer: 'dpo' | 'sft' | 'orpo', recipe: string, flags: string[] = []): Run {
  const out = tempDir(`handbook-${trainer}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HF_HUB_CACHE: join(fixturesDir, 'hub-cache'),
    HF_HUB_OFFLINE: '1',
    HF_HOME: tempDir('hf-home'),
  };
  delete env.TENSORBOARD_LOGGING_DIR;
  const result = spawnSync(process.execPath, [cli, trainer, join(recipesDir, recipe), '--output_dir', out, ...flags], {
    encoding: 'utf8',
    env,
  });
  const output = `${result.stdout}\n${result.stderr}`;
  expect(result.status, output).toBe(0);
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Entry);
  return { out, output, metrics };
}

const recipeKeys = (recipe: string) => Object.keys(parse(readFileSync(join(recipesDir, recipe), 'utf8')) as object);
const trainSteps = (run: Run) => run.metrics.at(-1)!.step;

/**
 * One note for each of `keys` (`note: <key>: <value> has no effect in alignkit: ...`, or another note naming the key
 * first); no note printed twice; the config-key notes only for keys the recipe sets.
 */
function expectNotes(run: Run, recipe: string, keys: string[]) {
  const notes = run.output.split('\n').filter((line) => line.startsWith('note: '));
  for (const key of keys) {
    expect(
      notes.filter((n) => n.startsWith(`note: ${key}: `) || n.startsWith(`note: ${key} `)),
      `one note for ${key} in:\n${run.output}`,
    ).toHaveLength(1);
  }
  expect(new Set(notes).size, notes.join('\n')).toBe(notes.length);
  for (const [, key] of notes
    .map((n) => /^note: (\w+): .* has no effect in alignkit/.exec(n))
    .filter((m) => m !== null)) {
    expect(recipeKeys(recipe), `a note for ${key}, which the recipe does not set`).toContain(key);
  }
}

/** The stored dtypes of a safetensors file (its JSON header only). */
function storedDtypes(path: string): Set<string> {
  const fd = openSync(path, 'r');
  try {
    const size = Buffer.alloc(8);
    readSync(fd, size, 0, 8, 0);
    const header = Buffer.alloc(Number(size.readBigUInt64LE()));
    readSync(fd, header, 0, header.length, 8);
    const tensors = JSON.parse(header.toString('utf8')) as Record<string, { dtype?: string }>;
    return new Set(
      Object.entries(tensors)
        .filter(([name]) => name !== '__metadata__')
        .map(([, t]) => t.dtype!),
    );
  } finally {
    closeSync(fd);
  }
}

function expectSavedModel(run: Run, dtype: 'F32' | 'BF16') {
  expect(existsSync(join(run.out, 'config.json'))).toBe(true);
  expect(storedDtypes(join(run.out, 'model.safetensors'))).toEqual(new Set([dtype]));
}

/** transformers' TensorBoardCallback tags (eval_x → eval/x, else train/x): every logged number at its step, the summary's too. */
function expectTensorBoard(run: Run) {
  const runs = readdirSync(join(run.out, 'runs'));
  expect(runs, 'one folder runs/<Mon><DD>_<HH>-<MM>-<SS>_<host>').toHaveLength(1);
  expect(runs[0]).toMatch(/^[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_.+$/);
  const dir = join(run.out, 'runs', runs[0]!);
  const files = readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.'));
  expect(files).toHaveLength(1);
  const scalars = readEvents(readFileSync(join(dir, files[0]!))).filter((e) => e.value?.scalar !== undefined);
  expect(run.metrics.length).toBeGreaterThan(1);
  for (const entry of run.metrics) {
    for (const [key, value] of Object.entries(entry)) {
      if (key === 'step') continue;
      const tag = key.startsWith('eval_') ? `eval/${key.slice(5)}` : `train/${key}`;
      const found = scalars.find((e) => e.step === entry.step && e.value!.tag === tag);
      expect(found?.value?.scalar, `${tag} at step ${entry.step}`).toBe(Math.fround(value));
    }
  }
}

const checkpoints = (run: Run) =>
  readdirSync(run.out)
    .filter((n) => n.startsWith('checkpoint-'))
    .sort();

/** The run's log entries (not the end-of-training summary) against TRL's, with bound(entry, key) → [rel, abs]. */
function expectTrlMetrics(run: Run, want: Entry[], bound: (entry: Entry, key: string) => [number, number]) {
  const got = run.metrics.filter((e) => !('train_runtime' in e));
  expect(got.map((e) => e.step)).toEqual(want.map((e) => e.step));
  got.forEach((entry, i) => {
    const expected = want[i]!;
    expect(Object.keys(entry).sort()).toEqual(Object.keys(expected).sort());
    for (const [key, value] of Object.entries(expected)) {
      const [rel, abs] = bound(expected, key);
      const diff = Math.abs(entry[key]! - value);
      expect(diff, `step ${expected.step} ${key}: ${entry[key]} vs TRL ${value}`).toBeLessThanOrEqual(
        Math.max(rel * Math.abs(value), abs),
      );
    }
  });
}

const isAccuracy = (key: string) => key.endsWith('rewards/accuracies');
const isReward = (key: string) => /rewards\/(chosen|rejected|margins)$/.test(key);
const trlRun = (name: string) => trl.runs.find((r) => r.name === name)!;
// Each run takes seconds to tens of seconds; the bound leaves room for a machine busy with other work.
const RUN_TIMEOUT = 300_000;

describe('alignment-handbook recipes run unchanged', () => {
  const zephyrDpo = 'zephyr-7b-beta/dpo/config_full.yaml';

  it(
    'zephyr-7b-beta DPO: the mixture, notes, TensorBoard, and TRL 1.13’s metrics under bf16 autocast',
    () => {
      const run = runRecipe('dpo', zephyrDpo);
      expect(trainSteps(run), '2320 pairs less test_split_size 2000, 8 x 2 a step').toBe(20);
      expectSavedModel(run, 'F32');
      expect(checkpoints(run), 'save_steps 100: the save at the end of training, save_total_limit 1').toEqual([
        'checkpoint-20',
      ]);
      expectNotes(run, zephyrDpo, ['log_level', 'do_eval']);
      expectTensorBoard(run);
      expectTrlMetrics(run, trlRun('recipe').log_history, (_, key) =>
        isAccuracy(key)
          ? [0, key.startsWith('eval_') ? 20 / 2000 : 8 / 160]
          : isReward(key)
            ? [1e-3, 1e-4]
            : [1e-3, 1e-6],
      );
    },
    RUN_TIMEOUT,
  );

  it(
    'zephyr-7b-beta DPO with --bf16 false --logging_steps 1: every step equals TRL 1.13’s in float32',
    () => {
      const run = runRecipe('dpo', zephyrDpo, ['--bf16', 'false', '--logging_steps', '1']);
      expectTrlMetrics(run, trlRun('fp32_each_step').log_history, (entry, key) =>
        isAccuracy(key)
          ? [0, key.startsWith('eval_') ? 2 / 2000 : 1 / 16]
          : entry.step === 1
            ? [1e-4, 1e-6]
            : [1e-3, 1e-6],
      );
    },
    RUN_TIMEOUT,
  );

  it(
    'zephyr-7b-beta SFT: Mistral-7B-v0.1 at revision main in bfloat16, the recipe’s chat template, eval each epoch',
    () => {
      const recipe = 'zephyr-7b-beta/sft/config_full.yaml';
      const run = runRecipe('sft', recipe);
      expect(trainSteps(run), '1110 conversations less test_split_size 1000, 16 a step').toBe(7);
      expect(
        run.metrics.some((e) => e.step === 7 && 'eval_loss' in e),
        'eval_strategy: epoch',
      ).toBe(true);
      expectSavedModel(run, 'BF16');
      expect(checkpoints(run), 'save_steps 100: the save at the end of training').toEqual(['checkpoint-7']);
      expectNotes(run, recipe, ['attn_implementation', 'log_level', 'do_eval', 'overwrite_output_dir']);
      expectTensorBoard(run);
    },
    RUN_TIMEOUT,
  );

  // The Zephyr-141B ORPO recipe (trl.experimental's ORPOTrainer; Mixtral-8x22B's stand-in is a tiny Mixtral in
  // bfloat16 without a pad token, capybara's rows whole conversations) with the one flag a CPU needs on both sides
  // (handbook_orpo_run.py): --optim adamw_torch, since adamw_bnb_8bit is bitsandbytes' GPU optimizer.
  const zephyrOrpo = 'zephyr-141b-A35b/orpo/config_full.yaml';
  const cpuFlags = Object.entries(trlOrpo.cpu_overrides).flat();
  const orpoRun = (name: string) => trlOrpo.runs.find((r) => r.name === name)!;

  it(
    'zephyr-141b ORPO: capybara on a bfloat16 Mixtral, notes, TensorBoard, and TRL 1.13’s metrics',
    () => {
      const run = runRecipe('orpo', zephyrOrpo, cpuFlags);
      expect(trainSteps(run), '20 pairs, 1 a step, 3 epochs').toBe(60);
      expectSavedModel(run, 'BF16');
      expectNotes(run, zephyrOrpo, ['log_level', 'attn_implementation', 'hub_model_id']);
      expectTensorBoard(run);
      // A bfloat16 model's forward (weights and activations in bfloat16, its router too) rounds differently in
      // alignkit and transformers; the recipe's learning rate (warmup to 5e-6 over 100 steps) moves no bfloat16
      // weight by an ulp, so the runs stay within that rounding without drifting. Measured per window: loss and
      // nll_loss ≤ 3.9e-4 relative, logps ≤ 2.2e-3, grad_norm one bfloat16 ulp (5.6e-3) once; the differences of
      // two sides' averages (log odds, margins) ≤ 1.6e-2 absolute; logits/ (means of ~1e-3) ≤ 1.9e-4 absolute;
      // accuracies equal. The float32 run below holds the strict comparison.
      expectTrlMetrics(run, orpoRun('recipe').log_history, (_, key) =>
        key.startsWith('logits/')
          ? [0, 1e-3]
          : key.startsWith('log_odds') || key === 'rewards/margins'
            ? [0, 5e-2]
            : key === 'rewards/accuracies'
              ? [0, 1 / 10]
              : [1e-2, 1e-6],
      );
    },
    RUN_TIMEOUT,
  );

  it(
    'zephyr-141b ORPO with --bf16 false --torch_dtype float32 --logging_steps 1: every step equals TRL 1.13’s',
    () => {
      const { overrides, log_history } = orpoRun('fp32_each_step');
      const run = runRecipe('orpo', zephyrOrpo, [...cpuFlags, ...Object.entries(overrides).flat()]);
      // Measured: ≤ 4.2e-6 relative (rewards/margins, a difference of two log-prob averages).
      expectTrlMetrics(run, log_history, (entry) => (entry.step === 1 ? [1e-4, 1e-6] : [1e-3, 1e-6]));
    },
    RUN_TIMEOUT,
  );

  // The ORPO recipes of the handbook's orpo-expts branch (llama3-8b, mistral-7b), written for its old DataArguments:
  // dataset_mixer / dataset_splits resolved as the old get_datasets and run_orpo.py did (handbook-mixer.ts), rows
  // rendered as text by its chat-template step. TRL 1.13's side (handbook_old_orpo_run.py) runs the handbook's own
  // Python for those steps, so equal metrics check the mixture's rows and order and the rendered text as well.
  const oldOrpo = [
    {
      label: 'llama3-8b',
      recipe: 'llama3-8b/orpo/config_v1.2.yaml',
      steps: 15,
      why: 'OpenHermesPreferences 1.0: 40 pairs, 8 a step, 3 epochs',
    },
    {
      label: 'mistral-7b',
      recipe: 'mistral-7b/orpo/config_v3.1.yaml',
      steps: 66,
      why: 'capybara 1.0 (20) + OpenHermesPreferences 0.05 (int(0.05 x 40) = 2): 22 pairs, 1 a step, 3 epochs',
    },
  ];
  const oldOrpoCpuFlags = Object.entries(trlOldOrpo.cpu_overrides).flat();
  for (const { label, recipe, steps, why } of oldOrpo) {
    const runs = trlOldOrpo.recipes[label]!.runs;
    it(
      `${label} ORPO (old handbook): dataset_mixer, notes, TensorBoard, and TRL 1.13’s metrics`,
      () => {
        const run = runRecipe('orpo', recipe, oldOrpoCpuFlags);
        expect(trainSteps(run), why).toBe(steps);
        expectSavedModel(run, 'BF16');
        expectNotes(run, recipe, [
          'dataset_mixer',
          'preprocessing_num_workers',
          'use_flash_attention_2',
          'log_level',
          'hub_model_id',
        ]);
        expectTensorBoard(run);
        // bfloat16 weights and autocast on both sides; these dense models round alike in alignkit and transformers.
        // Measured: ≤ 2e-5 relative (logps, rewards), grad_norm equal; the differences of two sides' averages (log
        // odds, margins) ≤ 3.7e-5 absolute, logits/ ≤ 1.8e-6 absolute; accuracies equal.
        expectTrlMetrics(run, runs.find((r) => r.name === 'recipe')!.log_history, (_, key) =>
          key.startsWith('logits/')
            ? [0, 1e-4]
            : key.startsWith('log_odds') || key === 'rewards/margins'
              ? [0, 1e-3]
              : key === 'rewards/accuracies'
                ? [0, 1 / 10]
                : [1e-3, 1e-6],
        );
      },
      RUN_TIMEOUT,
    );

    it(
      `${label} ORPO (old handbook) in float32, a log each step: every step equals TRL 1.13’s`,
      () => {
        const { overrides, log_history } = runs.find((r) => r.name === 'fp32_each_step')!;
        const run = runRecipe('orpo', recipe, [...oldOrpoCpuFlags, ...Object.entries(overrides).flat()]);
        // Measured: ≤ 2.4e-7 relative but for log odds and margins (differences near 0): ≤ 1e-6 absolute.
        expectTrlMetrics(run, log_history, (entry) => (entry.step === 1 ? [1e-4, 1e-6] : [1e-3, 1e-6]));
      },
      RUN_TIMEOUT,
    );
  }

  it(
    'smollm2 DPO: the ultrafeedback mixture on bfloat16 weights, evaluated at the last step',
    () => {
      const recipe = 'smollm2/dpo/config.yaml';
      const run = runRecipe('dpo', recipe, ['--max_steps', '3']);
      expect(trainSteps(run)).toBe(3);
      const evaluated = run.metrics.find((e) => e.step === 3 && 'eval_loss' in e);
      expect(evaluated, 'eval_strategy: steps evaluates at the end').toBeDefined();
      expect(evaluated!.epoch, '320 pairs, 2 x 8 a step: 20 steps an epoch').toBeCloseTo(0.15, 12);
      expectSavedModel(run, 'BF16');
      expect(checkpoints(run), 'save_strategy: no').toEqual([]);
      expectNotes(run, recipe, ['log_level', 'do_eval']);
      expectTensorBoard(run);
    },
    RUN_TIMEOUT,
  );

  it(
    'smollm3 APO: revision it-SFT, smoltalk2 weights 0.5 / 0.25, chat_template_kwargs, a save at half the steps',
    () => {
      const recipe = 'smollm3/dpo/apo.yaml';
      const run = runRecipe('dpo', recipe);
      expect(trainSteps(run), '40 x 0.5 + 40 x 0.25 pairs, 1 x 2 a step').toBe(15);
      expect(run.metrics.filter((e) => 'loss' in e).map((e) => e.step)).toEqual(
        Array.from({ length: 15 }, (_, i) => i + 1),
      );
      expectSavedModel(run, 'BF16');
      expect(checkpoints(run), 'save_steps 0.5 (step 8) and the end, save_total_limit 1').toEqual(['checkpoint-15']);
      expectNotes(run, recipe, [
        'attn_implementation',
        'trust_remote_code',
        'log_level',
        'run_name',
        'overwrite_output_dir',
        'use_liger_kernel',
      ]);
      expectTensorBoard(run);
    },
    RUN_TIMEOUT,
  );
});
