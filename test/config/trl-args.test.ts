// TRL's command line as TrlParser / HfArgumentParser read it (`trl dpo --config recipe.yaml --beta 0.2`), and a
// recipe with flags over its keys (the recipe sets defaults, the flags override them).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecipe, resolveRecipe } from '../../src/config/load-recipe.js';
import { trainerSchemas } from '../../src/config/trainer-fields.js';
import { parseTrlArgs } from '../../src/config/trl-args.js';
import { tempDir } from '../helpers/fixtures.js';

const dpoArgs = (...args: string[]) => parseTrlArgs(args, trainerSchemas.dpo, 'dpo');

describe('parseTrlArgs', () => {
  it('takes the recipe as the positional argument or --config, and --key value / --key=value / --key-with-dashes', () => {
    expect(dpoArgs('r.yaml', '--beta', '0.2', '--learning_rate=1e-6', '--max-steps', '-1')).toEqual({
      configPath: 'r.yaml',
      flags: { beta: '0.2', learning_rate: '1e-6', max_steps: '-1' },
    });
    expect(dpoArgs('--beta', '0.2', '--config', 'r.yaml')).toEqual({ configPath: 'r.yaml', flags: { beta: '0.2' } });
    expect(dpoArgs('--config=r.yaml')).toEqual({ configPath: 'r.yaml', flags: {} });
    expect(() => dpoArgs('a.yaml', '--config', 'b.yaml')).toThrow(
      'alignkit dpo: one recipe at a time: got a.yaml and b.yaml',
    );
    // A repeated flag: the last wins, as argparse.
    expect(dpoArgs('--beta', '0.1', '--beta', '0.3').flags).toEqual({ beta: '0.3' });
  });

  it('a true/false key: --flag alone is true, or takes yes/no/true/false/1/0..., and --no_flag is false', () => {
    expect(dpoArgs('--use_weighting', '--beta', '0.2').flags).toEqual({ use_weighting: true, beta: '0.2' });
    expect(dpoArgs('--use_weighting', 'False', '--sync_ref_model', 'yes', '--disable_dropout=0').flags).toEqual({
      use_weighting: false,
      sync_ref_model: true,
      disable_dropout: false,
    });
    expect(dpoArgs('--no_gradient_checkpointing', '--no-disable-dropout').flags).toEqual({
      gradient_checkpointing: false,
      disable_dropout: false,
    });
    // A flag alone does not swallow the recipe that follows it.
    expect(dpoArgs('--use_weighting', 'r.yaml')).toEqual({ configPath: 'r.yaml', flags: { use_weighting: true } });
    expect(dpoArgs('--bf16', 'none').flags).toEqual({ bf16: null });
    expect(() => dpoArgs('--use_weighting=maybe')).toThrow(
      "--use_weighting takes yes/no, true/false, t/f, y/n or 1/0, got 'maybe'",
    );
  });

  it('a list key takes several values; none/null is null for a key that may be null and is not a string', () => {
    expect(dpoArgs('--loss_type', 'sigmoid', 'sft', '--loss_weights', '1', '0.5', '--beta', '0.1').flags).toEqual({
      loss_type: ['sigmoid', 'sft'],
      loss_weights: [1, 0.5],
      beta: '0.1',
    });
    expect(dpoArgs('--max_length', 'None', '--ld_alpha', 'null').flags).toEqual({ max_length: null, ld_alpha: null });
    expect(dpoArgs('--run_name', 'none').flags).toEqual({ run_name: 'none' });
  });

  it('a mapping is JSON (as TrainingArguments reads its dict keys), and a key of any type reads as YAML', () => {
    expect(dpoArgs('--lr_scheduler_kwargs', '{"min_lr_rate": 0.1}').flags).toEqual({
      lr_scheduler_kwargs: { min_lr_rate: 0.1 },
    });
    expect(() => dpoArgs('--lr_scheduler_kwargs', '{min_lr_rate: 0.1}')).toThrow(
      /--lr_scheduler_kwargs is not valid JSON/,
    );
    expect(dpoArgs('--deepspeed', 'ds.json', '--optim_target_modules', '[q_proj, v_proj]').flags).toEqual({
      deepspeed: 'ds.json',
      optim_target_modules: ['q_proj', 'v_proj'],
    });
    expect(dpoArgs('--resume_from_checkpoint').flags).toEqual({ resume_from_checkpoint: true });
    expect(dpoArgs('--resume_from_checkpoint', 'out/checkpoint-4').flags).toEqual({
      resume_from_checkpoint: 'out/checkpoint-4',
    });
  });

  it('old spellings are flags too, typed as they were', () => {
    expect(dpoArgs('--warmup_ratio', '0.1', '--group_by_length', '--evaluation_strategy', 'steps').flags).toEqual({
      warmup_ratio: '0.1',
      group_by_length: true,
      evaluation_strategy: 'steps',
    });
    expect(parseTrlArgs(['--max_seq_length', '512'], trainerSchemas.sft, 'sft').flags).toEqual({
      max_seq_length: '512',
    });
  });

  it('an unknown flag names the nearest key; a value-taking flag without one says so', () => {
    expect(() => dpoArgs('--betta', '0.2')).toThrow('alignkit dpo: unknown flag --betta (did you mean --beta?)');
    expect(() => parseTrlArgs(['--packing'], trainerSchemas.dpo, 'dpo')).toThrow(
      'alignkit dpo: unknown flag --packing',
    );
    expect(() => dpoArgs('--beta', '--max_steps', '3')).toThrow('alignkit dpo: --beta needs a value');
    expect(() => dpoArgs('--beta')).toThrow('alignkit dpo: --beta needs a value');
  });
});

describe('a recipe with flags', () => {
  it('flags override the recipe, typed by the schema; the command names the trainer', () => {
    const { config } = resolveRecipe(
      'dpo',
      { beta: 0.1, learning_rate: 5e-7, max_steps: 10 },
      { learning_rate: '1e-6', max_steps: '2', use_weighting: true },
    );
    expect(config).toMatchObject({ trainer: 'dpo', beta: 0.1, learning_rate: 1e-6, max_steps: 2, use_weighting: true });
  });

  it("a flag replaces the recipe's key in either spelling (warmup_ratio / warmup_steps)", () => {
    expect(resolveRecipe('dpo', { warmup_ratio: 0.1 }, { warmup_steps: '5' }).config.warmup_steps).toBe(5);
    expect(resolveRecipe('dpo', { warmup_steps: 5 }, { warmup_ratio: '0.2' }).config.warmup_steps).toBe(0.2);
  });

  it("a recipe whose trainer: names another trainer is refused; a flag's bad value names the flag", () => {
    expect(resolveRecipe('sft', { trainer: 'sft' }, {}).config.trainer).toBe('sft');
    expect(() => resolveRecipe('dpo', { trainer: 'sft' }, {}, 'r.yaml')).toThrow(
      'r.yaml: trainer: "sft", but the command is alignkit dpo (drop the trainer key, or run alignkit train)',
    );
    expect(() => resolveRecipe('dpo', {}, { beta: 'high' })).toThrow(
      'alignkit dpo --beta: \'beta\' must be a number, got string "high"',
    );
    expect(() => resolveRecipe('kto', {}, { deepspeed: 'ds.json' })).toThrow(
      /alignkit kto --deepspeed: deepspeed: "ds.json" is not supported/,
    );
    expect(() => resolveRecipe('dpo', { betta: 0.2 }, {}, 'r.yaml')).toThrow(
      "r.yaml: unknown key 'betta' for trainer dpo (did you mean 'beta'?)",
    );
  });

  it("returns TrlParser's env: mapping as strings, as Python's str() writes them", () => {
    expect(
      resolveRecipe('dpo', { env: { WANDB_DISABLED: true, OMP_NUM_THREADS: 2, HF_HOME: '/data/hf' } }, {}).env,
    ).toEqual({ WANDB_DISABLED: 'True', OMP_NUM_THREADS: '2', HF_HOME: '/data/hf' });
    expect(() => resolveRecipe('dpo', { env: ['A=1'] }, {}, 'r.yaml')).toThrow(
      "r.yaml: 'env' must be a mapping of environment variables to values",
    );
  });

  it('loadRecipe reads the YAML recipe and the flags together', async () => {
    const path = join(tempDir('recipe'), 'recipe.yaml');
    writeFileSync(path, 'beta: 0.05\nloss_type: apo_zero\nwarmup_ratio: 0.1\nlog_level: info\n');
    const recipe = await loadRecipe('dpo', [path, '--beta', '0.2', '--max_steps', '3']);
    expect(recipe.path).toBe(path);
    expect(recipe.config).toMatchObject({
      beta: 0.2,
      loss_type: ['apo_zero'],
      warmup_steps: 0.1,
      max_steps: 3,
      log_level: 'info',
    });
    expect((await loadRecipe('sft', ['--max_seq_length', '128'])).config.max_length).toBe(128);
  });
});
