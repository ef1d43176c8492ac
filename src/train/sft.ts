// The SFT recipe: config → tokenized table (data/sft) → the policy → the SFT step, handed to the shared loop
// (trainer-loop.ts) for optimizer steps, logging, evaluation and checkpoints. It mirrors TRL 1.13's SFTTrainer
// with loss_type "nll" on a causal LM, which accepts loss kwargs: each micro-batch's summed token NLL is divided by
// num_items_in_batch, the label tokens of the whole optimizer step (transformers' _get_num_items_in_batch), so
// the step's loss is the mean over its label tokens however they fall into micro-batches (data-parallel: over every
// rank's, average_tokens_across_devices, each rank's loss scaled by the world size). The step itself is
// Model.sftStep (native/train/sft_step.cpp). The final folder and every checkpoint carry the chat template and
// eos_token used, so each is a model_name_or_path for trainer: dpo.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SftConfig } from '../config/load-config.js';
import { lossCatalogue, lossOptions } from '../config/loss-options.js';
import { splitBatches } from '../data/epoch-batches.js';
import { chatTemplateOption, preprocessSft } from '../data/sft/preprocess-sft.js';
import { SftBatches } from '../data/sft/sft-batches.js';
import { sftCollateOptions, type SftBatch } from '../data/sft/sft-collator.js';
import { readArrowFile } from '../data/token-table.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { configError } from '../errors.js';
import type { SftLossOptions, SftStepOptions } from '../types/steps.js';
import { Tokenizer } from '../tokenizer/index.js';
import { checkEvalDataset, checkPrecision } from './config-checks.js';
import { setupPolicy } from './policy-setup.js';
import type { MicroBatchResult } from './recipe.js';
import { runTrainer } from './trainer-loop.js';
import type { TrainOptions, TrainResult } from './train-types.js';
import { METRIC_RULES } from './metrics.js';
import { checkpointingOptions } from './checkpointed-layers.js';

function checkSupported(config: SftConfig, tokenizer: Tokenizer, note: (message: string) => void): void {
  checkPrecision(config, note);
  if (tokenizer.addedTokens.length > 0) {
    throw configError(
      `the chat template adds tokens (${tokenizer.addedTokens.join(', ')}) the model has no embeddings for; ` +
        'use a chat template whose tokens are in the vocabulary',
    );
  }
}

/** transformers' _get_num_items_in_batch for one micro-batch: labels[:, 1:] != -100. */
function labelTokens(b: SftBatch): number {
  let n = 0;
  for (let row = 0; row < b.rows; row++) {
    for (let t = row * b.seqLen + 1; t < (row + 1) * b.seqLen; t++) if (b.labels[t] !== -100) n++;
  }
  return n;
}

/** What the Trainer saves beside the weights with the processing class: the chat template used and the eos_token. */
async function saveTokenizerSettings(dir: string, tokenizer: Tokenizer, eosToken: string | null): Promise<void> {
  if (tokenizer.chatTemplate !== undefined) await writeFile(join(dir, 'chat_template.jinja'), tokenizer.chatTemplate);
  if (eosToken === null) return;
  const path = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  await writeFile(path, JSON.stringify({ ...tokenizerConfig, eos_token: eosToken }, null, 2) + '\n');
}

export async function trainSft(config: SftConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const note = options.log ?? ((message: string) => console.error(message));
  const dp = options.dataParallel ?? DataParallel.single;
  const tokenizer = await Tokenizer.load(config.model_name_or_path!, { chatTemplate: chatTemplateOption(config) });
  checkSupported(config, tokenizer, note);
  const evaluates = checkEvalDataset(config);
  const batchOptions = {
    ...sftCollateOptions(config, tokenizer),
    seed: config.data_seed ?? config.seed,
    groupByLength: false,
    dropLast: config.dataloader_drop_last,
  };
  // Rank 0 tokenizes into the cache first; the other ranks then read it.
  const table = async (split: 'train' | 'eval') =>
    readArrowFile((await dp.mainFirst(() => preprocessSft(config, { split, log: note, refuseEmpty: true }))).path);
  const { trainBatches, evalBatches } = await splitBatches((t, o) => new SftBatches(t, o), table, batchOptions, {
    trainBatchSize: config.per_device_train_batch_size,
    evalBatchSize: config.per_device_eval_batch_size,
    shuffle: config.train_sampling_strategy !== 'sequential',
    evaluates,
  });

  const { resumeDir, policy, optimizer, resumed } = await setupPolicy(config, dp);
  // native/train/sft_loss.cpp (sftLogitsScaling) follows TRL here; said once, as it changes what Granite trains on.
  if (policy.config.modelType === 'granite' && (config.loss_type ?? 'chunked_nll') === 'chunked_nll')
    note(
      "note: model_type granite: TRL 1.13's default SFT loss (loss_type chunked_nll) takes the lm_head's logits " +
        "without Granite's logits_scaling, and so does alignkit, to train as TRL does; loss_type: nll trains on the " +
        "model's scaled logits (its own forward's loss)",
    );
  const stepOptions: SftStepOptions = {
    ...lossOptions<SftLossOptions>(config, lossCatalogue('sft')),
    bf16: config.bf16 ?? true,
    ...checkpointingOptions(config, policy.config.numLayers),
    router_aux_loss_coef: config.router_aux_loss_coef,
  };
  return runTrainer(
    {
      config,
      policy,
      optimizer,
      resumed,
      resumeDir,
      trainBatches,
      evalBatches,
      async trainStep(micro) {
        const batches = micro.map((indices) => trainBatches.collate(indices));
        const [numItemsInBatch] = await dp.sum([batches.reduce((n, b) => n + labelTokens(b), 0)]);
        const world = dp.worldSize;
        let loss = 0;
        const results: MicroBatchResult[] = [];
        for (const [i, b] of batches.entries()) {
          const out = await policy.sftStep(b, {
            ...stepOptions,
            numItemsInBatch: numItemsInBatch || undefined,
            lossScale: world,
            syncGradients: i === batches.length - 1,
          });
          loss += out.loss * world;
          results.push({ parts: out.parts, num_tokens: out.num_tokens, inputTokens: b.inputIds.length });
        }
        return { loss, micro: results };
      },
      // prediction_step counts num_items_in_batch over the one batch: its mean token NLL.
      async evalStep(indices) {
        return policy.sftStep(evalBatches!.collate(indices), { ...stepOptions, backward: false });
      },
      metricRules: METRIC_RULES.sft,
      saveTokenizerSettings: (dir) => saveTokenizerSettings(dir, tokenizer, config.eos_token),
    },
    options,
  );
}
