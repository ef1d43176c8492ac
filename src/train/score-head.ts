// The folder a reward model trains from. A *ForSequenceClassification folder is used as it is; a causal LM folder
// becomes one as RewardTrainer's AutoModelForSequenceClassification.from_pretrained(path, num_labels=1) makes it:
// the lm_head dropped, a fresh score head drawn by _init_weights (normal(0, initializer_range), after TRL's
// set_seed(seed): the same draws), the config naming the classification architecture with one label.
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError } from '../errors.js';
import { native } from '../native.js';

/** Where a causal LM's reward-model form is written, under output_dir. */
export const SCORE_HEAD_INIT_DIR = 'reward-model-init';

const CLASSIFIER = /ForSequenceClassification$/;

/**
 * `modelDir` itself when its config.json names a *ForSequenceClassification architecture, else the folder written
 * under `outputDir` with a fresh score head (`seed`: the run's seed; `write: false` only names it). `padTokenId` goes
 * to config.pad_token_id, as RewardTrainer sets it before training.
 */
export async function rewardModelDir(
  modelDir: string,
  outputDir: string,
  seed: number,
  padTokenId: number,
  { write = true }: { write?: boolean } = {},
) {
  const config = JSON.parse(await readFile(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const architectures = Array.isArray(config.architectures) ? (config.architectures as string[]) : [];
  if (architectures.some((a) => CLASSIFIER.test(a))) return { dir: modelDir, freshHead: false };
  const causal = architectures.find((a) => a.endsWith('ForCausalLM'));
  if (!causal)
    throw configError(
      'model_name_or_path',
      `${modelDir}: config.json names no *ForCausalLM or *ForSequenceClassification architecture (architectures: ${JSON.stringify(config.architectures)})`,
    );
  const dir = join(outputDir, SCORE_HEAD_INIT_DIR);
  // Data-parallel ranks other than 0 read the folder rank 0 wrote.
  if (!write) return { dir, freshHead: true };
  if (existsSync(dir)) await rm(dir, { recursive: true });
  const hidden = config.hidden_size as number;
  const std = typeof config.initializer_range === 'number' ? config.initializer_range : 0.02;
  await native().NativeModel.writeScoreHeadWeights(modelDir, dir, hidden, std, seed);
  const classifier = {
    ...config,
    architectures: [causal.replace(/ForCausalLM$/, 'ForSequenceClassification')],
    id2label: { 0: 'LABEL_0' },
    label2id: { LABEL_0: 0 },
    pad_token_id: padTokenId,
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(classifier, null, 2) + '\n');
  return { dir, freshHead: true };
}
