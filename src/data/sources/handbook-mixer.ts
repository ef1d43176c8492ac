// The old alignment-handbook's `dataset_mixer` (before its 2025 rewrite; src/alignment/data.py get_datasets /
// mix_datasets and scripts/run_orpo.py, e.g. at commit 2ad9d3641e43a367b494bc0b9041c06371ffc216), as its ORPO recipes
// read it, into the text rows trainer orpo trains on:
// - every dataset_splits name of every dataset is loaded (dataset_configs: one config per dataset); a name with
//   "train" in it gives train rows, else one with "test" gives test rows;
// - columns_to_keep [prompt, chosen, rejected]: other columns are dropped;
// - train: the first int(fraction × rows) of each dataset's train split, concatenated, shuffle(seed=42);
//   test: every test split whole, concatenated, shuffle(seed=42);
// - run_orpo.py's apply_chat_template(task="orpo"): prompt = the `prompt` messages, else chosen[:-1]; chosen /
//   rejected = their last message; an empty system message first when auto_insert_empty_system_msg and the template
//   mentions 'system' or '<|im_start|>'; each part rendered alone (no generation prompt) as text;
// - run_orpo.py's filter: a row whose rendered prompt is max_prompt_length tokens or more (special tokens counted,
//   as tokenizer(text) does) is dropped.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { AlignkitError } from '../../errors.js';
import { Tokenizer } from '../../tokenizer/index.js';
import type { Message } from '../../tokenizer/chat-template.js';
import { permutation } from '../random/permutation.js';
import { locateSplit } from './locate-split.js';
import { materialize, type SourceSplit } from './materialize.js';

/** The config keys this step reads. */
export interface HandbookMixerKeys {
  dataset_mixer: Record<string, unknown> | null;
  dataset_splits: unknown;
  dataset_configs: unknown;
  auto_insert_empty_system_msg: boolean;
  chat_template: string | null;
  model_name_or_path: string | null;
  max_prompt_length: number | null;
  eval_strategy: string;
  output_dir: string | null;
  skip_invalid_rows: boolean;
}

/** The handbook's DEFAULT_CHAT_TEMPLATE, which get_tokenizer sets when neither the recipe nor the tokenizer has one. */
export const OLD_HANDBOOK_DEFAULT_TEMPLATE =
  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

const COLUMNS_TO_KEEP = ['prompt', 'chosen', 'rejected'];
const SHUFFLE_SEED = 42;

const configError = (key: string, message: string) => new AlignkitError('ERR_INVALID_CONFIG', `${key}: ${message}`);

export interface MixerSource {
  path: string;
  name: string | null;
  split: string;
  role: 'train' | 'test';
  fraction: number;
}

/** dataset_mixer + dataset_splits + dataset_configs checked into one source per (dataset, split), in load order. */
export function mixerSources(config: HandbookMixerKeys): MixerSource[] {
  const mixer = config.dataset_mixer!;
  const entries = Object.entries(mixer);
  if (entries.length === 0) throw configError('dataset_mixer', 'names no dataset');
  const splits = config.dataset_splits ?? ['train', 'test'];
  if (!Array.isArray(splits) || splits.length === 0 || !splits.every((s) => typeof s === 'string'))
    throw configError('dataset_splits', `must be a list of split names, got ${JSON.stringify(splits)}`);
  const configs = config.dataset_configs;
  if (
    configs !== null &&
    configs !== undefined &&
    (!Array.isArray(configs) || !configs.every((c) => c === null || typeof c === 'string'))
  )
    throw configError('dataset_configs', `must be a list of config names, got ${JSON.stringify(configs)}`);
  const names = Array.isArray(configs) && configs.length > 0 ? (configs as (string | null)[]) : null;
  if (names && names.length !== entries.length)
    throw configError(
      'dataset_configs',
      `the number of given dataset config names (${names.length}) must be the same as the given number of datasets (${entries.length})`,
    );
  const roles = (splits as string[]).map((split): 'train' | 'test' => {
    if (split.includes('train')) return 'train';
    if (split.includes('test')) return 'test';
    throw configError('dataset_splits', `split type ${split} not recognized as one of test or train`);
  });
  // mix_datasets zips the train splits loaded (one per dataset per train split name) with the fractions (one per
  // dataset): with two train split names it pairs them wrongly and drops datasets. Refused rather than copied.
  if (roles.filter((r) => r === 'train').length > 1)
    throw configError(
      'dataset_splits',
      `lists more than one train split (${JSON.stringify(splits)}); the old handbook's mix_datasets then pairs fractions with the wrong splits and drops datasets; list one`,
    );
  return entries.flatMap(([path, fraction], i) => {
    if (typeof fraction !== 'number' || !Number.isFinite(fraction))
      throw configError(`dataset_mixer.${path}`, `must be a fraction, got ${JSON.stringify(fraction)}`);
    if (fraction < 0) throw configError('dataset_mixer', 'dataset fractions cannot be negative');
    return (splits as string[]).map((split, s) => ({
      path,
      name: names?.[i] ?? null,
      split,
      role: roles[s]!,
      fraction,
    }));
  });
}

function shuffled(rows: number[]): Uint32Array {
  const out = Uint32Array.from(rows);
  if (out.length === 0) return out;
  const order = permutation(SHUFFLE_SEED, out.length);
  return Uint32Array.from(order, (i) => out[i]!);
}

/** mix_datasets' rows, numbered across the sources in load order, from each source's row count. */
export function mixerRows(
  sources: MixerSource[],
  counts: readonly number[],
): { train: Uint32Array; test: Uint32Array } {
  const train: number[] = [];
  const test: number[] = [];
  let offset = 0;
  sources.forEach((source, k) => {
    const n = counts[k]!;
    if (source.role === 'test') for (let r = 0; r < n; r++) test.push(offset + r);
    else {
      const keep = Math.trunc(source.fraction * n);
      if (keep > n)
        throw configError(
          `dataset_mixer.${source.path}`,
          `fraction ${source.fraction} selects ${keep} rows of split ${source.split}, which has ${n}`,
        );
      for (let r = 0; r < keep; r++) train.push(offset + r);
    }
    offset += n;
  });
  return { train: shuffled(train), test: shuffled(test) };
}

const isOpenAiFormat = (value: unknown): value is Message[] =>
  Array.isArray(value) && value.every((m) => typeof m === 'object' && m !== null && 'role' in m && 'content' in m);

/** apply_chat_template(example, tokenizer, task="orpo", auto_insert_empty_system_msg) of the old handbook. */
export function renderOrpoRow(
  row: Record<string, unknown>,
  tokenizer: Tokenizer,
  insertSystem: boolean,
  where: string,
): { prompt: string; chosen: string; rejected: string } {
  const { chosen, rejected, prompt } = row;
  if (!isOpenAiFormat(chosen) || !isOpenAiFormat(rejected))
    throw new AlignkitError(
      'ERR_INVALID_DATA',
      `${where}: could not format example as dialogue for the orpo task: chosen and rejected must be lists of {role, content} messages`,
    );
  let promptMessages: Message[];
  let chosenMessages: Message[];
  let rejectedMessages: Message[];
  if (isOpenAiFormat(prompt)) {
    [promptMessages, chosenMessages, rejectedMessages] = [[...prompt], chosen, rejected];
  } else {
    [promptMessages, chosenMessages, rejectedMessages] = [chosen.slice(0, -1), chosen.slice(-1), rejected.slice(-1)];
  }
  if (insertSystem && promptMessages[0]?.role !== 'system') {
    if (promptMessages.length === 0)
      throw new AlignkitError('ERR_INVALID_DATA', `${where}: the prompt has no message (messages[0] of an empty list)`);
    const template = tokenizer.chatTemplate ?? '';
    if (template.includes('system') || template.includes('<|im_start|>'))
      promptMessages = [{ role: 'system', content: '' }, ...promptMessages];
  }
  return {
    prompt: tokenizer.applyChatTemplate(promptMessages),
    chosen: tokenizer.applyChatTemplate(chosenMessages),
    rejected: tokenizer.applyChatTemplate(rejectedMessages),
  };
}

/** The tokenizer run_orpo.py's get_tokenizer makes: the recipe's chat template, else the folder's, else the default. */
async function oldHandbookTokenizer(config: HandbookMixerKeys): Promise<Tokenizer> {
  const modelDir = config.model_name_or_path;
  if (!modelDir) throw configError('model_name_or_path', 'is required');
  let tokenizer = await Tokenizer.load(modelDir, { chatTemplate: config.chat_template ?? undefined });
  if (tokenizer.chatTemplate === undefined)
    tokenizer = await Tokenizer.load(modelDir, { chatTemplate: OLD_HANDBOOK_DEFAULT_TEMPLATE });
  if (tokenizer.chatTemplate!.includes('<|im_start|>'))
    throw configError(
      'chat_template',
      "a ChatML template: the old run_orpo.py then called TRL's setup_chat_format (new <|im_start|>/<|im_end|> tokens, resized embeddings, its own template), which alignkit does not do; use a template whose tokens the tokenizer has",
    );
  return tokenizer;
}

/** Renders a materialized file's rows into text rows (written beside it once), dropping run_orpo.py's long prompts. */
async function renderFile(
  path: string,
  tokenizer: Tokenizer,
  config: HandbookMixerKeys,
  log: (message: string) => void,
): Promise<string> {
  // Named by what the rendering depends on besides the rows, so a changed template or filter renders again.
  const key = createHash('sha256')
    .update(
      JSON.stringify([
        config.model_name_or_path,
        tokenizer.chatTemplate,
        config.auto_insert_empty_system_msg,
        config.max_prompt_length,
      ]),
    )
    .digest('hex')
    .slice(0, 12);
  const out = path.replace(/\.jsonl$/, `.orpo-text-${key}.jsonl`);
  if (existsSync(out)) return out;
  const partial = `${out}.${process.pid}.partial`; // ranks rendering at once each write their own, then rename
  const writer = createWriteStream(partial);
  let row = 0;
  let dropped = 0;
  try {
    for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
      if (line === '') continue;
      row++;
      const text = renderOrpoRow(
        JSON.parse(line) as Record<string, unknown>,
        tokenizer,
        config.auto_insert_empty_system_msg,
        `${path}: row ${row}`,
      );
      if (
        config.max_prompt_length !== null &&
        (await tokenizer.encode(text.prompt)).length >= config.max_prompt_length
      ) {
        dropped++;
        continue;
      }
      if (!writer.write(`${JSON.stringify(text)}\n`)) await once(writer, 'drain');
    }
    writer.end();
    await once(writer, 'finish');
  } catch (err) {
    writer.destroy();
    rmSync(partial, { force: true });
    throw err;
  }
  renameSync(partial, out);
  if (config.max_prompt_length !== null)
    log(
      `datasets: dataset_mixer: dropped ${dropped} of ${row} rows whose prompt has max_prompt_length (${config.max_prompt_length}) tokens or more, as the old run_orpo.py filters them`,
    );
  return out;
}

/** train_dataset / eval_dataset for a config with dataset_mixer: the old handbook's rows, rendered as text. */
export async function resolveHandbookMixer(
  config: HandbookMixerKeys,
  evaluate: boolean,
  log: (message: string) => void,
): Promise<{ train: string; test: string | null }> {
  const sources = mixerSources(config);
  if (evaluate && !sources.some((s) => s.role === 'test'))
    throw configError(
      'eval_strategy',
      `'${config.eval_strategy}' evaluates on dataset_mixer's test splits, and dataset_splits lists none (or set eval_dataset)`,
    );
  if (!config.output_dir)
    throw configError('output_dir', 'is required (the resolved dataset rows are written under it)');
  // The tokenizer (and its template's refusal) before any row is read.
  const tokenizer = await oldHandbookTokenizer(config);
  log(
    "note: dataset_mixer: read as the old alignment-handbook's get_datasets (dataset_splits with 'train' in the name: the first int(fraction × rows) of each, with 'test': whole; columns prompt/chosen/rejected; each concatenated and shuffled with seed 42) and its run_orpo.py's chat-template step (text prompt/chosen/rejected, an empty system message when auto_insert_empty_system_msg; prompts of max_prompt_length tokens or more dropped; its HumanEval decontamination filter is not run)",
  );
  const splits: SourceSplit[] = [];
  for (const source of sources) {
    const { files } = await locateSplit({ path: source.path, name: source.name, split: source.split }, { log });
    splits.push({ label: `dataset_mixer ${source.path} split ${source.split}`, files, columns: COLUMNS_TO_KEEP });
  }
  const outputs = evaluate ? (['train', 'test'] as const) : (['train'] as const);
  const written = await materialize(
    splits,
    outputs,
    (counts) => {
      const rows = mixerRows(sources, counts);
      return { train: rows.train, test: evaluate ? rows.test : null };
    },
    {
      dir: `${config.output_dir}/datasets`,
      recipe: { kind: 'handbook-dataset-mixer', sources, seed: SHUFFLE_SEED },
      skipInvalidRows: config.skip_invalid_rows,
      log,
    },
  );
  const train = await renderFile(written.train!, tokenizer, config, log);
  const testPath = evaluate ? (written as Record<'test', string | null>).test : null;
  return { train, test: testPath ? await renderFile(testPath, tokenizer, config, log) : null };
}
