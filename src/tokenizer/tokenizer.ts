// A Hugging Face tokenizer folder loaded the way transformers 5.18's AutoTokenizer loads it, on the Rust
// `tokenizers` library, with its chat template.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AddedToken, Tokenizer as Backend } from 'tokenizers';
import { AlignkitError } from '../errors.js';
import { ChatTemplate, type ChatTemplateOptions, type Message } from './chat-template.js';
import { readTokenizerFolder, type Json } from './folder.js';
import { llamaPipeline, usesLlamaTokenizer } from './llama-pipeline.js';
import { isTemplateName, NAMED_TEMPLATES, type NamedTemplate } from './named-templates.js';
import { resolveSpecialTokens, tokensToAdd, type TokenSpec } from './special-tokens.js';

export interface TokenizerLoadOptions {
  /**
   * `chatml`, `zephyr`, `llama2`, `llama3`, or the path of a .jinja file (relative to the working directory):
   * replaces the folder's chat template. A named template adds the special tokens it needs (see `addedTokens`).
   */
  chatTemplate?: string;
}

export interface EncodeOptions {
  /** Let the post-processor add bos/eos, as `tokenizer(text)` does. Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens from the text. Default false. */
  skipSpecialTokens?: boolean;
}

const toAddedToken = (t: TokenSpec) =>
  new AddedToken(t.content, t.special, {
    singleWord: t.singleWord,
    leftStrip: t.lstrip,
    rightStrip: t.rstrip,
    normalized: t.normalized,
  });

function createBackend(json: Json, path: string): Backend {
  try {
    // transformers turns tokenizer.json's padding and truncation off for every call that does not ask for them
    return Backend.fromString(JSON.stringify({ ...json, padding: null, truncation: null }));
  } catch (err) {
    throw new AlignkitError(
      'ERR_INVALID_MODEL',
      `${path}: the tokenizers library cannot load it (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
}

/** Jinja source rather than a name or a path: the alignment-handbook's recipes set `chat_template` to the template itself. */
const isInlineTemplate = (option: string) => option.includes('{%') || option.includes('{{');

/** The template named by a load option: a built-in name, a file, or the template's own source. */
async function templateOption(option: string): Promise<{ source: string; origin: string; named?: NamedTemplate }> {
  if (isTemplateName(option)) {
    return { source: NAMED_TEMPLATES[option].template, origin: option, named: NAMED_TEMPLATES[option] };
  }
  if (isInlineTemplate(option)) return { source: option, origin: "the config's chat_template" };
  const path = resolve(option);
  const source = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') {
      throw new AlignkitError('ERR_INVALID_MODEL', `chat template ${path}: ${err.message}`, { cause: err });
    }
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `chat template ${path} not found (a chat template is chatml, zephyr, llama2, llama3, the path of a .jinja file or the template's Jinja source)`,
    );
  });
  return { source, origin: path };
}

/** A tokenizer and chat template from a Hugging Face model folder (tokenizer.json, tokenizer_config.json...). */
export class Tokenizer {
  readonly eosToken: string;
  readonly eosTokenId: number;
  readonly bosToken?: string;
  readonly bosTokenId?: number;
  readonly padToken?: string;
  readonly padTokenId?: number;
  readonly unkToken?: string;
  readonly unkTokenId?: number;
  /** Named special tokens as chat templates see them (transformers' special_tokens_map): bos_token, eos_token... */
  readonly specialTokens: Readonly<Record<string, string>>;
  /** The chat template used without tools (a folder may hold more, e.g. `tool_use`). */
  readonly chatTemplate?: string;
  /**
   * Tokens a named chat template added to the vocabulary. They get ids from `vocabSize - addedTokens.length` on:
   * the model's embeddings must be resized to `vocabSize` before training.
   */
  readonly addedTokens: readonly string[];
  /** Number of tokens including added ones (TRL's `len(tokenizer.vocab)`). */
  readonly vocabSize: number;
  readonly #backend: Backend;
  readonly #templates: Map<string, ChatTemplate>;

  private constructor(
    backend: Backend,
    named: Map<string, string>,
    templates: Map<string, ChatTemplate>,
    added: string[],
  ) {
    this.#backend = backend;
    this.#templates = templates;
    this.specialTokens = Object.freeze(Object.fromEntries(named));
    this.chatTemplate = templates.get('default')?.source;
    this.addedTokens = Object.freeze(added);
    this.vocabSize = Object.keys(backend.getVocab(true)).length;
    // transformers' convert_tokens_to_ids: an unknown token maps to the unk id
    this.unkToken = named.get('unk_token');
    this.unkTokenId = this.unkToken === undefined ? undefined : (backend.tokenToId(this.unkToken) ?? undefined);
    const id = (token: string | undefined) =>
      token === undefined ? undefined : (backend.tokenToId(token) ?? this.unkTokenId);
    this.bosToken = named.get('bos_token');
    this.bosTokenId = id(this.bosToken);
    this.padToken = named.get('pad_token');
    this.padTokenId = id(this.padToken);
    const eos = named.get('eos_token');
    const eosId = id(eos);
    if (eos === undefined || eosId === undefined) {
      throw new AlignkitError(
        'ERR_INVALID_MODEL',
        'the tokenizer has no eos_token (tokenizer_config.json, special_tokens_map.json); set one there or pick a ' +
          'chat template that brings its own (chatml, llama3)',
      );
    }
    this.eosToken = eos;
    this.eosTokenId = eosId;
  }

  /** Loads `modelDir`'s tokenizer; `options.chatTemplate` replaces or provides the chat template. */
  static async load(modelDir: string, options: TokenizerLoadOptions = {}): Promise<Tokenizer> {
    const folder = await readTokenizerFolder(modelDir);
    const special = resolveSpecialTokens(folder);
    const llama = usesLlamaTokenizer(folder);
    const backend = createBackend(
      llama ? llamaPipeline(folder.tokenizer, folder.config) : folder.tokenizer,
      join(modelDir, 'tokenizer.json'),
    );
    const present = llama ? [] : ((folder.tokenizer.added_tokens ?? []) as Json[]).map((t) => String(t.content));
    backend.addAddedTokens(tokensToAdd(special, present).map(toAddedToken));
    const named = new Map([...special.named].map(([key, token]) => [key, token.content]));

    let sources: [name: string, source: string, origin: string][] = Object.entries(folder.chatTemplates).map(
      ([name, source]) => [name, source, `${modelDir} (chat template "${name}")`],
    );
    const added: string[] = [];
    if (options.chatTemplate !== undefined) {
      const chosen = await templateOption(options.chatTemplate);
      sources = [['default', chosen.source, chosen.origin]];
      if (chosen.named) {
        added.push(...chosen.named.specialTokens.filter((t) => backend.tokenToId(t) === null));
        backend.addSpecialTokens(chosen.named.specialTokens);
        for (const [key, token] of Object.entries(chosen.named.set)) named.set(key, token);
      }
    }
    const templates = new Map(sources.map(([name, source, origin]) => [name, new ChatTemplate(source, origin)]));
    return new Tokenizer(backend, named, templates, added);
  }

  async encode(text: string, options: EncodeOptions = {}): Promise<number[]> {
    const encoding = await this.#backend.encode(text, null, { addSpecialTokens: options.addSpecialTokens ?? true });
    return encoding.getIds();
  }

  /** Encodes many texts in one call, spread over the `tokenizers` thread pool. */
  async encodeBatch(texts: string[], options: EncodeOptions = {}): Promise<number[][]> {
    const encodings = await this.#backend.encodeBatch(texts, { addSpecialTokens: options.addSpecialTokens ?? true });
    return encodings.map((e) => e.getIds());
  }

  /**
   * Encodes many texts with each token's `[start, end)` span in its text, counted in code points as Python
   * indexes strings (transformers' `offset_mapping`); tokens the post-processor adds span `[0, 0)`.
   */
  async encodeBatchWithOffsets(
    texts: string[],
    options: EncodeOptions = {},
  ): Promise<{ ids: number[]; offsets: [number, number][] }[]> {
    const encodings = await this.#backend.encodeBatch(texts, { addSpecialTokens: options.addSpecialTokens ?? true });
    return encodings.map((e) => ({ ids: e.getIds(), offsets: e.getOffsets() as [number, number][] }));
  }

  async decode(ids: number[], options: DecodeOptions = {}): Promise<string> {
    return this.#backend.decode(ids, options.skipSpecialTokens ?? false);
  }

  /** The id of `token` (special or not), or undefined when the vocabulary lacks it. */
  tokenToId(token: string): number | undefined {
    return this.#backend.tokenToId(token) ?? undefined;
  }

  /** The rendered conversation, as transformers' `apply_chat_template(messages, tokenize=False, ...)`. */
  applyChatTemplate(messages: Message[], options: ChatTemplateOptions = {}): string {
    return this.#template(options.tools !== undefined).render(messages, options, this.specialTokens);
  }

  /**
   * Token ids of the rendered conversation, as `apply_chat_template(messages, tokenize=True)`: the text is encoded
   * without adding special tokens, since the template writes them itself.
   */
  async applyChatTemplateIds(messages: Message[], options: ChatTemplateOptions = {}): Promise<number[]> {
    return this.encode(this.applyChatTemplate(messages, options), { addSpecialTokens: false });
  }

  /** transformers' get_chat_template: `tool_use` when tools are given and the folder has it, else `default`. */
  #template(withTools: boolean): ChatTemplate {
    const chosen = (withTools ? this.#templates.get('tool_use') : undefined) ?? this.#templates.get('default');
    if (chosen) return chosen;
    const names = [...this.#templates.keys()];
    throw new AlignkitError(
      'ERR_INVALID_MODEL',
      names.length === 0
        ? 'the tokenizer has no chat template; choose one with ' +
            'chat_template: chatml | zephyr | llama2 | llama3 | path/to/file.jinja'
        : `the tokenizer has several chat templates (${names.join(', ')}) and none is named "default"`,
    );
  }
}
