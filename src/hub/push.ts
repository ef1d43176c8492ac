// push_to_hub: output_dir uploaded to a hub model repo with the official @huggingface/hub client, when and as
// transformers 5.18's Trainer uploads it (init_hf_repo, _push_from_checkpoint, push_to_hub; TRL's scripts push once
// more after the final save):
//   start          create the repo (hub_model_id, default output_dir's name in the token's namespace), exist_ok
//   each checkpoint  (not hub_strategy 'end') copy the checkpoint's model files into output_dir and upload output_dir
//                  in the background, training going on; 'checkpoint' also uploads the checkpoint folder as
//                  last-checkpoint/, 'all_checkpoints' as checkpoint-N/. While one push is uploading, the next
//                  checkpoint's is skipped unless hub_always_push (then queued behind it).
//   train end      wait for the push in flight; after the final model is saved, upload output_dir ("End of training").
// output_dir uploads leave out what the Trainer leaves out (`_*`, `checkpoint-*`, .git, .cache/huggingface) and
// alignkit's own working files (tokenized data, the run lock, checkpoint folders being written).
import { copyFile, readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRepo, HubApiError, uploadFiles, whoAmI } from '@huggingface/hub';
import type { HUB_STRATEGIES } from '../config/report-fields.js';
import { AlignkitError, configError } from '../errors.js';
import type { Reporter, SaveEvent } from '../report/reporters.js';
import { hubFailure } from './hub-client.js';
import { hubEndpoint, hubToken, hubTokenPath, isHubOffline, offlineSource } from './hub-env.js';
import { repoIdProblem } from './repo-id.js';

export interface PushConfig {
  output_dir: string | null;
  push_to_hub: boolean;
  hub_model_id: string | null;
  hub_strategy: (typeof HUB_STRATEGIES)[number];
  hub_token: string | null;
  hub_private_repo: boolean | null;
  hub_always_push: boolean;
  hub_revision: string | null;
  save_strategy: string;
}

/** The token a push sends: hub_token, else the one huggingface_hub would (HF_TOKEN, then the `hf auth login` file). */
export function pushToken(config: Pick<PushConfig, 'hub_token'>): string | undefined {
  return config.hub_token || hubToken();
}

/** The repo name init_hf_repo asks for: hub_model_id, else the name of output_dir (absolute). */
export function requestedRepo(config: Pick<PushConfig, 'hub_model_id' | 'output_dir'>): string {
  return config.hub_model_id ?? basename(resolve(config.output_dir!));
}

/** Before any work: a push needs the network, a token and a valid repo id. */
export function checkPushToHub(config: PushConfig): void {
  if (!config.push_to_hub) return;
  if (isHubOffline()) {
    throw configError(
      `push_to_hub: true uploads output_dir to the Hugging Face Hub, but ${offlineSource()} keeps alignkit offline; ` +
        'set push_to_hub: false, or unset the variable',
    );
  }
  if (!pushToken(config)) {
    throw configError(
      `push_to_hub: true needs a Hugging Face token with write access, and none was found: set hub_token, ` +
        `or HF_TOKEN, or log in with \`hf auth login\` (it writes ${hubTokenPath()})`,
    );
  }
  const repo = requestedRepo(config);
  const problem = repoIdProblem(repo);
  if (problem) {
    throw configError(
      `${config.hub_model_id ? 'hub_model_id' : "hub_model_id (unset: output_dir's name)"} '${repo}' is not a hub repo id: ${problem}`,
    );
  }
}

// --- which files an upload takes ---

/** fnmatch as huggingface_hub's filter_repo_objects applies it: `*` matches across `/`. */
function fnmatch(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[' && pattern.indexOf(']', i + 2) > 0) {
      const end = pattern.indexOf(']', i + 2);
      const body = pattern.slice(i + 1, end);
      source += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
      i = end;
    } else source += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

/** upload_folder's DEFAULT_IGNORE_PATTERNS. */
const DEFAULT_IGNORE = [
  '.git',
  '.git/*',
  '*/.git',
  '**/.git/**',
  '.cache/huggingface',
  '.cache/huggingface/*',
  '*/.cache/huggingface',
  '**/.cache/huggingface/**',
];
/** Trainer.push_to_hub / _push_from_checkpoint's ignore_patterns for output_dir. */
const TRAINER_IGNORE = ['_*', 'checkpoint-*'];
/** alignkit's working files in output_dir: tokenized data (train/eval.arrow and their .json), the run lock, checkpoints being written. */
const ALIGNKIT_IGNORE = [
  'train.arrow',
  'train.arrow.json',
  'eval.arrow',
  'eval.arrow.json',
  'alignkit.lock',
  '.checkpoint-*',
];

export const OUTPUT_DIR_IGNORE = [...TRAINER_IGNORE, ...ALIGNKIT_IGNORE];

/** Every file under `folder` (paths relative to it, with `/`, sorted) that no pattern of `ignore` or upload_folder's defaults matches. */
export async function filesToUpload(folder: string, ignore: string[] = []): Promise<string[]> {
  const patterns = [...DEFAULT_IGNORE, ...ignore].map(fnmatch);
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) =>
      join(e.parentPath, e.name)
        .slice(folder.length + 1)
        .split('\\')
        .join('/'),
    )
    .filter((path) => !patterns.some((p) => p.test(path)))
    .sort();
}

/**
 * What _push_from_checkpoint copies from a checkpoint into output_dir before uploading it: the model (weights,
 * shards, config, generation config, PEFT adapter) and what the tokenizer saved, i.e. the checkpoint's files but
 * its training state (trainer_state.json, optimizer, scheduler, RNG states; folders such as ref_model stay).
 */
export async function checkpointModelFiles(checkpoint: string): Promise<string[]> {
  const state = /^(trainer_state\.json|optimizer\..*|scheduler\..*|scaler\..*|rng_state.*|training_args\.bin)$/;
  const entries = await readdir(checkpoint, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !state.test(e.name))
    .map((e) => e.name)
    .sort();
}

/** The commit title of a checkpoint's push, as _push_from_checkpoint words it. */
export function checkpointCommitTitle(saveStrategy: string, event: Pick<SaveEvent, 'step' | 'epoch'>): string {
  return saveStrategy === 'steps'
    ? `Training in progress, step ${event.step}`
    : `Training in progress, epoch ${Math.trunc(event.epoch)}`;
}

/** Where hub_strategy puts a checkpoint folder in the repo, or null when only output_dir is pushed. */
export function checkpointPathInRepo(strategy: PushConfig['hub_strategy'], checkpoint: string): string | null {
  return strategy === 'checkpoint' ? 'last-checkpoint' : strategy === 'all_checkpoints' ? basename(checkpoint) : null;
}

// --- the pusher ---

/** Uploads for one training run; runTrainer calls it as a reporter (reporters.ts). */
export class HubPusher implements Reporter {
  readonly repoId: string;
  readonly #config: PushConfig;
  readonly #token: string;
  readonly #log: (message: string) => void;
  /** The background pushes, one after another (as huggingface_hub's single upload worker runs them). */
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;

  private constructor(config: PushConfig, repoId: string, token: string, log: (message: string) => void) {
    this.#config = config;
    this.repoId = repoId;
    this.#token = token;
    this.#log = log;
  }

  /** init_hf_repo: resolves the repo id (a bare name goes to the token's user) and creates the repo unless it exists. */
  static async open(config: PushConfig, log: (message: string) => void): Promise<HubPusher> {
    const token = pushToken(config)!;
    const hubUrl = hubEndpoint();
    const requested = requestedRepo(config);
    const repoId = await hubCall(`push_to_hub: creating the repo ${requested} on ${hubUrl}`, async () => {
      const id = requested.includes('/')
        ? requested
        : `${(await whoAmI({ accessToken: token, hubUrl })).name}/${requested}`;
      try {
        await createRepo({
          repo: { type: 'model', name: id },
          accessToken: token,
          hubUrl,
          ...(config.hub_private_repo === null ? {} : { private: config.hub_private_repo }),
        });
      } catch (err) {
        // create_repo(exist_ok=True): an existing repo is the one to push to.
        if (!(err instanceof HubApiError && err.statusCode === 409)) throw err;
      }
      return id;
    });
    log(
      `push_to_hub: pushing to ${hubUrl}/${repoId}${config.hub_revision ? ` (revision ${config.hub_revision})` : ''}, hub_strategy ${config.hub_strategy}`,
    );
    return new HubPusher(config, repoId, token, log);
  }

  /** A checkpoint was saved: copy its model into output_dir and push in the background (see the file's header). */
  async saved(event: SaveEvent): Promise<void> {
    const { hub_strategy: strategy, hub_always_push: always } = this.#config;
    if (strategy === 'end') return;
    if (!always && this.#pending > 0) {
      this.#log(
        `push_to_hub: ${basename(event.checkpoint)} not pushed: the previous push is still uploading (hub_always_push: false)`,
      );
      return;
    }
    const outputDir = this.#config.output_dir!;
    for (const name of await checkpointModelFiles(event.checkpoint))
      await copyFile(join(event.checkpoint, name), join(outputDir, name));
    const title = checkpointCommitTitle(this.#config.save_strategy, event);
    const inRepo = checkpointPathInRepo(strategy, event.checkpoint);
    this.#enqueue(title, async () => {
      await this.#upload(outputDir, OUTPUT_DIR_IGNORE, '', title);
      if (inRepo) await this.#upload(event.checkpoint, [], inRepo, `${title}, checkpoint`);
    });
  }

  /** on_train_end (_finish_current_push): the push in flight finishes before the final model is written. */
  async trainEnd(): Promise<void> {
    await this.#queue;
  }

  /** The final model is in output_dir: push it, waiting (a failure is the run's error). */
  async modelSaved(): Promise<void> {
    await this.#queue;
    const outputDir = this.#config.output_dir!;
    await hubCall(`push_to_hub: uploading ${outputDir} to ${this.repoId}`, () =>
      this.#upload(outputDir, OUTPUT_DIR_IGNORE, '', 'End of training'),
    );
    this.#log(`push_to_hub: ${outputDir} pushed to ${hubEndpoint()}/${this.repoId}`);
  }

  async close(): Promise<void> {
    await this.#queue;
  }

  /** A background push: it never stops training; a failure is reported as a note (the next push carries the files). */
  #enqueue(title: string, push: () => Promise<void>): void {
    this.#pending++;
    this.#queue = this.#queue
      .then(push)
      .catch((err: unknown) => this.#log(`push_to_hub: "${title}" failed (${hubFailure(err)}); training goes on`))
      .finally(() => this.#pending--);
  }

  async #upload(folder: string, ignore: string[], pathInRepo: string, commitTitle: string): Promise<void> {
    const files = await filesToUpload(folder, ignore);
    await uploadFiles({
      repo: { type: 'model', name: this.repoId },
      accessToken: this.#token,
      hubUrl: hubEndpoint(),
      commitTitle,
      ...(this.#config.hub_revision ? { branch: this.#config.hub_revision } : {}),
      files: files.map((path) => ({
        path: pathInRepo ? `${pathInRepo}/${path}` : path,
        content: pathToFileURL(join(folder, path)),
      })),
    });
  }
}

/** Runs a hub call; its failure becomes an AlignkitError naming what was being done. */
async function hubCall<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new AlignkitError('ERR_HUB', `${doing} failed: ${hubFailure(err)}`, { cause: err });
  }
}
