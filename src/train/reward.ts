// The reward-model recipe: config → preference pairs tokenized as RewardTrainer does (data/reward) → a
// *ForSequenceClassification model with one label (a causal LM gets a fresh score head: score-head.ts) → the
// reward step (native/train/reward_step.h: the score at each row's last non-pad token, the Bradley–Terry loss with
// the optional margin column and center_rewards_coefficient), handed to the shared loop (trainer-loop.ts). It
// mirrors TRL 1.13's RewardTrainer (__init__, _prepare_dataset, compute_loss, log). The output folder is a
// *ForSequenceClassification model: `reward_model_path` of online DPO and `reward_model` of `alignkit eval` read it.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RewardConfig } from '../config/load-config.js';
import { splitBatches } from '../data/epoch-batches.js';
import { chatTemplateOption } from '../data/sft/preprocess-sft.js';
import { eosTokenOf } from '../data/sft/tokenize-sft.js';
import { preprocessReward } from '../data/reward/preprocess-reward.js';
import { RewardBatches, type RewardBatch } from '../data/reward/reward-batches.js';
import { readArrowFile } from '../data/token-table.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { configError } from '../errors.js';
import { Tokenizer } from '../tokenizer/index.js';
import type { RewardStepOptions, RewardStepResult } from '../types/reward-steps.js';
import { checkpointingOptions } from './checkpointed-layers.js';
import { checkEvalDataset, checkPrecision } from './config-checks.js';
import { METRIC_RULES } from './metrics.js';
import { adapterBase } from './peft.js';
import { setupPolicy } from './policy-setup.js';
import { meanOverMicroBatches } from './recipe.js';
import { rewardModelDir } from './score-head.js';
import { runTrainer } from './trainer-loop.js';
import type { TrainOptions, TrainResult } from './train-types.js';

function checkSupported(config: RewardConfig, note: (message: string) => void): void {
  checkPrecision(config, note);
  if (config.pad_token !== null)
    note(
      "note: pad_token is deprecated since TRL 1.1 (removed in 2.0), as TRL warns; it is still used: set the tokenizer's pad token instead",
    );
  // PEFT's SEQ_CLS task trains the score head whole beside the adapters (modules_to_save ["classifier", "score"]).
  // Under ModelConfig's default CAUSAL_LM, TRL's get_peft_config leaves the head frozen: not implemented here.
  if (config.use_peft && config.lora_task_type !== 'SEQ_CLS')
    throw configError(
      'lora_task_type',
      `'${config.lora_task_type}' with trainer: reward and use_peft is not implemented: set lora_task_type: SEQ_CLS, with which PEFT trains the score head beside the adapters (under CAUSAL_LM, ModelConfig's default, TRL leaves the score head frozen)`,
    );
}

/** The pad token RewardTrainer settles on (pad_token, else the tokenizer's, else EOS), which must be in the vocabulary. */
function padTokenOf(config: RewardConfig, tokenizer: Tokenizer, eos: string): { token: string; id: number } {
  const token = config.pad_token ?? tokenizer.padToken ?? eos;
  const id = tokenizer.tokenToId(token);
  if (id === undefined)
    throw configError('pad_token', `'${token}' is not in the tokenizer's vocabulary (it must be an existing token)`);
  return { token, id };
}

/**
 * What RewardTrainer changes on the model and processing class it saves: config.pad_token_id (where the score is
 * pooled), and the tokenizer's pad and eos tokens when the config overrides them.
 */
async function saveRewardSettings(dir: string, pad: { token: string; id: number }, eos: string): Promise<void> {
  // A LoRA run saves the adapter alone (no config.json), whose base model already has it.
  const configPath = join(dir, 'config.json');
  if (existsSync(configPath)) {
    const config = JSON.parse(await readFile(configPath, 'utf8'));
    await writeFile(configPath, JSON.stringify({ ...config, pad_token_id: pad.id }, null, 2) + '\n');
  }
  const tokenizerPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = JSON.parse(await readFile(tokenizerPath, 'utf8').catch(() => '{}'));
  await writeFile(
    tokenizerPath,
    JSON.stringify({ ...tokenizerConfig, pad_token: pad.token, eos_token: eos }, null, 2) + '\n',
  );
}

export async function trainReward(config: RewardConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const note = options.log ?? ((message: string) => console.error(message));
  const dp = options.dataParallel ?? DataParallel.single;
  checkSupported(config, note);
  const evaluates = checkEvalDataset(config);
  const modelDir = config.model_name_or_path!;
  if (adapterBase(modelDir))
    throw configError(
      `trainer: reward starts from a model, not a PEFT adapter folder (${modelDir}); merge it first with alignkit merge`,
    );

  // The processing class: chat template, eos_token, pad token (RewardTrainer.__init__).
  const tokenizer = await Tokenizer.load(modelDir, { chatTemplate: chatTemplateOption(config) });
  const eos = eosTokenOf(tokenizer, config.eos_token);
  const pad = padTokenOf(config, tokenizer, eos);

  // A causal LM gets its score head as from_pretrained draws it after set_seed(seed); rank 0 writes the folder.
  const source = await dp.mainFirst(() =>
    rewardModelDir(modelDir, config.output_dir!, config.seed, pad.id, { write: dp.isMain }),
  );
  if (source.freshHead) note(`note: ${modelDir} is a causal LM; its score head is new (${source.dir})`);

  const table = async (split: 'train' | 'eval') =>
    readArrowFile(
      (
        await dp.mainFirst(() =>
          preprocessReward(config, { split, tokenizer, eosToken: eos, tokenizerDir: modelDir, log: note }),
        )
      ).path,
    );
  const batchOptions = {
    seed: config.data_seed ?? config.seed,
    groupByLength: false,
    dropLast: config.dataloader_drop_last,
    padTokenId: pad.id,
    padToMultipleOf: config.pad_to_multiple_of,
  };
  const { trainBatches, evalBatches } = await splitBatches((t, o) => new RewardBatches(t, o), table, batchOptions, {
    trainBatchSize: config.per_device_train_batch_size,
    evalBatchSize: config.per_device_eval_batch_size,
    shuffle: config.train_sampling_strategy === 'random',
    evaluates,
  });

  const { resumeDir, policy, optimizer, resumed } = await setupPolicy(
    { ...config, model_name_or_path: source.dir },
    dp,
    'score',
  );
  const stepOptions: RewardStepOptions = {
    pad_token_id: pad.id,
    center_rewards_coefficient: config.center_rewards_coefficient,
    bf16: config.bf16 ?? true,
    ...checkpointingOptions(config, policy.config.numLayers),
  };

  // TRL gathers every rank's scores for min_reward / max_reward: each rank's part becomes the extreme over all of
  // them (count 1), which the loop's sum over ranks then divides back to that extreme.
  const extremaAcrossRanks = async (out: RewardStepResult) => {
    if (dp.worldSize === 1) return out;
    const all = await dp.gather(Float32Array.of(out.parts.min_reward![0], out.parts.max_reward![0]));
    const values = Array.from(all);
    const min = Math.min(...values.filter((_, i) => i % 2 === 0));
    const max = Math.max(...values.filter((_, i) => i % 2 === 1));
    return { ...out, parts: { ...out.parts, min_reward: [min, 1], max_reward: [max, 1] } } as RewardStepResult;
  };
  const step = async (b: RewardBatch, how: RewardStepOptions) =>
    extremaAcrossRanks(await policy.rewardStep(b, { ...stepOptions, ...how }));

  return runTrainer(
    {
      config,
      policy,
      optimizer,
      resumed,
      resumeDir,
      trainBatches,
      evalBatches,
      // RewardTrainer sets model_accepts_loss_kwargs = False: each micro-batch's mean loss over the accumulation.
      trainStep: (micro) =>
        meanOverMicroBatches(
          micro,
          (indices) => trainBatches.collate(indices),
          (b, _indices, how) => step(b, how),
        ),
      evalStep: (indices) => step(evalBatches!.collate(indices), { backward: false }),
      metricRules: METRIC_RULES.reward,
      saveTokenizerSettings: (dir) => saveRewardSettings(dir, pad, eos),
    },
    options,
  );
}
