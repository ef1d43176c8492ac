// Tokenization identical to TRL 1.13's SFTTrainer._prepare_dataset (trainer/sft_trainer.py): EOS text appended
// to plain text and plain completions (add_eos), the chat template for conversations, prompt/completion as
// tokenize(prompt + completion) with a completion mask of its tokens past tokenize(prompt), assistant masks from
// `{% generation %}` blocks under assistant_only_loss, then labels (build_labels: -100 where an applicable mask is
// 0), and max_length truncation with fully masked rows dropped (truncate, filter) when not packing.
import { AlignkitError } from '../../errors.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { Message } from '../../tokenizer/chat-template.js';
import type { Turn } from '../extract-prompt.js';
import { assistantMask, GenerationSpans, hasGenerationMarkers } from './assistant-mask.js';
import type { SftExample } from './sft-rows.js';

/** One tokenized example: TRL's `input_ids` and `labels` columns (-100: no loss on that token). */
export interface SftIds {
  input_ids: number[];
  labels: number[];
}

export interface SftTokenizeOptions {
  /** TRL appends EOS only to a column named `text` (add_eos), so another dataset_text_field gets none. */
  dataset_text_field: string;
  /** Labels only on the completion tokens of prompt/completion rows (resolved: see resolveCompletionOnlyLoss). */
  completion_only_loss: boolean;
  /** Labels only on tokens inside the chat template's `{% generation %}` blocks. */
  assistant_only_loss: boolean;
  /** Replaces the tokenizer's EOS token (TRL sets `tokenizer.eos_token`): appended text and the template's eos_token. */
  eos_token: string | null;
}

export interface SftTokenizeStats {
  /** Rows where tokenize(prompt) is not a prefix of tokenize(prompt + completion): TRL only warns. */
  prefixMismatches: number;
}

/** TRL's default: completion-only loss for prompt/completion datasets, full loss for language modeling. */
export function resolveCompletionOnlyLoss(configured: boolean | null, first: SftExample): boolean {
  return configured ?? (first.format === 'prompt_completion' || first.format === 'prompt_completion_messages');
}

/** The EOS text TRL appends: eos_token from the config (which must be a vocabulary token) or the tokenizer's. */
export function eosTokenOf(tokenizer: Tokenizer, override: string | null): string {
  if (override === null) return tokenizer.eosToken;
  if (tokenizer.tokenToId(override) === undefined) {
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `config: eos_token '${override}' is not in the tokenizer's vocabulary ` + '(it must be an existing token)',
    );
  }
  return override;
}

const rowError = (ex: SftExample, err: unknown): unknown =>
  err instanceof AlignkitError
    ? new AlignkitError(err.code, `${ex.at.file}: row ${ex.at.row}: ${err.message}`, { cause: err })
    : err;

/** What to encode for one example: texts with or without the tokenizer's special tokens, and generation spans. */
interface Job {
  text: string;
  special: boolean;
  /** Generation spans in code points, when the assistant mask is wanted. */
  spans?: [number, number][];
}

interface Encoded {
  ids: number[];
  assistantMask?: number[];
}

/** Tokenizes SFT examples as TRL does; returns one SftIds per example, in order. */
export class SftTokenizer {
  readonly #tokenizer: Tokenizer;
  readonly #options: SftTokenizeOptions;
  readonly #eos: string;
  readonly #spans?: GenerationSpans;

  constructor(tokenizer: Tokenizer, options: SftTokenizeOptions) {
    this.#tokenizer = tokenizer;
    this.#options = options;
    this.#eos = eosTokenOf(tokenizer, options.eos_token);
    if (options.assistant_only_loss) {
      const template = tokenizer.chatTemplate;
      if (template === undefined || !hasGenerationMarkers(template)) {
        throw new AlignkitError(
          'ERR_INVALID_CONFIG',
          'config: assistant_only_loss needs a chat template with ' +
            '{% generation %} ... {% endgeneration %} around assistant output; TRL swaps in its own training template for ' +
            'known model families (trl/chat_templates/*_training.jinja): set chat_template_path (or chat_template) to such a file',
        );
      }
      this.#spans = new GenerationSpans(template, 'assistant_only_loss chat template');
    }
  }

  #render(ex: SftExample, messages: Turn[], generationPrompt: boolean, withSpans: boolean): Job {
    const options = {
      ...(this.#options.eos_token !== null ? { eos_token: this.#eos } : {}),
      tools: ex.tools,
      ...ex.chatTemplateKwargs,
      addGenerationPrompt: generationPrompt,
    };
    try {
      const text = this.#tokenizer.applyChatTemplate(messages as Message[], options);
      if (!withSpans || !this.#spans) return { text, special: false };
      const marked = this.#spans.render(messages as Message[], options, this.#tokenizer.specialTokens);
      if (marked.text !== text) {
        throw new AlignkitError(
          'ERR_INVALID_DATA',
          'assistant_only_loss: cannot locate the {% generation %} blocks of this ' +
            'conversation (a message holds U+E000/U+E001, or the template renders differently with tools)',
        );
      }
      return { text, special: false, spans: marked.spans };
    } catch (err) {
      throw rowError(ex, err);
    }
  }

  #jobs(ex: SftExample): Job[] {
    const withEos = (s: string) => (s.endsWith(this.#eos) ? s : s + this.#eos);
    const assistant = this.#options.assistant_only_loss;
    switch (ex.format) {
      case 'text':
        return [{ text: this.#options.dataset_text_field === 'text' ? withEos(ex.text) : ex.text, special: true }];
      case 'prompt_completion':
        return [
          { text: ex.prompt, special: true },
          { text: ex.prompt + withEos(ex.completion), special: true },
        ];
      case 'messages':
        return [this.#render(ex, ex.messages, false, assistant)];
      case 'prompt_completion_messages':
        return [
          this.#render(ex, ex.prompt, true, false),
          this.#render(ex, [...ex.prompt, ...ex.completion], false, assistant),
        ];
    }
  }

  /** Encodes jobs in three batches (with special tokens, without, with offsets), keeping their order. */
  async #encode(jobs: Job[]): Promise<Encoded[]> {
    const groups = [
      jobs.filter((j) => j.special),
      jobs.filter((j) => !j.special && !j.spans),
      jobs.filter((j) => j.spans),
    ];
    const plain = async (group: Job[], special: boolean) =>
      (
        await this.#tokenizer.encodeBatch(
          group.map((j) => j.text),
          { addSpecialTokens: special },
        )
      ).map((ids) => ({ ids }));
    const withOffsets = async (group: Job[]) =>
      (
        await this.#tokenizer.encodeBatchWithOffsets(
          group.map((j) => j.text),
          { addSpecialTokens: false },
        )
      ).map((e, i) => ({ ids: e.ids, assistantMask: assistantMask(e.offsets, group[i]!.spans!) }));
    const done = [await plain(groups[0]!, true), await plain(groups[1]!, false), await withOffsets(groups[2]!)];
    const next = done.map((d) => d[Symbol.iterator]());
    return jobs.map((j) => next[j.special ? 0 : j.spans ? 2 : 1]!.next().value as Encoded);
  }

  async tokenize(examples: SftExample[], stats: SftTokenizeStats): Promise<SftIds[]> {
    const jobs = examples.map((ex) => this.#jobs(ex));
    const encoded = (await this.#encode(jobs.flat()))[Symbol.iterator]();
    return examples.map((ex, e) => {
      const parts = jobs[e]!.map(() => encoded.next().value as Encoded);
      const full = parts.at(-1)!;
      const masks: number[][] = [];
      if (parts.length === 2) {
        const prompt = parts[0]!.ids;
        if (!prompt.every((id, i) => full.ids[i] === id)) stats.prefixMismatches++;
        // [0] * len(prompt_ids) + [1] * (len(prompt_completion_ids) - len(prompt_ids)): shorter than the ids
        // when the prompt tokenizes longer alone, and labels then stop there too (zip, strict=False).
        if (this.#options.completion_only_loss) {
          masks.push([
            ...new Array<number>(prompt.length).fill(0),
            ...new Array<number>(Math.max(0, full.ids.length - prompt.length)).fill(1),
          ]);
        }
      }
      if (full.assistantMask) {
        if (!full.assistantMask.includes(1)) {
          throw rowError(
            ex,
            new AlignkitError(
              'ERR_INVALID_DATA',
              'assistant_only_loss: no assistant tokens in this row ' +
                '(the chat template marks none with {% generation %}: no assistant message, or a role it does not treat as assistant)',
            ),
          );
        }
        masks.push(full.assistantMask);
      }
      return { input_ids: full.ids, labels: buildLabels(full.ids, masks) };
    });
  }
}

/** TRL's build_labels: the id where every mask is 1, else -100; as long as the shortest of them (zip). */
function buildLabels(ids: number[], masks: number[][]): number[] {
  const length = Math.min(ids.length, ...masks.map((m) => m.length));
  const labels = new Array<number>(length);
  for (let t = 0; t < length; t++) labels[t] = masks.every((m) => m[t] === 1) ? ids[t]! : -100;
  return labels;
}

/**
 * TRL's truncate + filter (without packing): ids and labels keep their first (keep_start) or last (keep_end)
 * max_length tokens; a row left without any label is dropped (null).
 */
export function truncateSft(row: SftIds, maxLength: number | null, mode: 'keep_start' | 'keep_end'): SftIds | null {
  if (maxLength === null) return row;
  // Python's x[-n:] on a shorter list is the whole list; slice(-n) is the same in JS.
  const cut = (xs: number[]) => (mode === 'keep_start' ? xs.slice(0, maxLength) : xs.slice(-maxLength));
  const out = { input_ids: cut(row.input_ids), labels: cut(row.labels) };
  return out.labels.some((l) => l !== -100) ? out : null;
}
