// Renders a chat template as transformers 5.18's apply_chat_template(tokenize=False) does
// (utils/chat_template_utils.py: render_jinja_template), on @huggingface/jinja.
//
// Mirrored from transformers, and matched by @huggingface/jinja on the fixture templates: trim_blocks and
// lstrip_blocks, the template's one trailing newline dropped, `raise_exception(msg)`, `strftime_now(fmt)` (local time, C locale), `tojson`
// as json.dumps(ensure_ascii=False) with its indent/separators/sort_keys arguments, loop controls, namespace(),
// `{% generation %}` blocks rendered as their body; variables: messages, tools and documents (None when not
// given), add_generation_prompt, the named special tokens, then the caller's extra kwargs.
// Where @huggingface/jinja differs from Jinja2 (none of the built-in or fixture templates meets these): Python
// values printed directly (`{{ true }}` gives "true" not "True", none gives "" not "None", lists and dicts print
// as JSON, not Python repr), whole floats in tojson lose ".0", `undefined ~ "x"` raises, `'x' * 3` and `%` string
// formatting raise, `'a' + 1` gives "a1" instead of raising, `{%+` does not parse, trim/strip use JS whitespace,
// strftime_now is Python's (strftime.ts, installed by template-budget.ts): @huggingface/jinja's knows few directives
// and names months in the process locale.
import { Template } from '@huggingface/jinja';
import { AlignkitError } from '../errors.js';
import { TemplateBudgetError, withTemplateBudget } from './template-budget.js';

/**
 * One chat message. `content` is usually text; transformers also takes content blocks (`[{type, text}]`) or none
 * (assistant tool calls). Other fields (tool_calls, reasoning_content...) reach the template as they are.
 */
export interface Message {
  role: string;
  content?: unknown;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the header that starts an assistant turn (`add_generation_prompt`). Default false. */
  addGenerationPrompt?: boolean;
  /** Tool JSON schemas (`tools`); also selects a folder's `tool_use` template when it has one. */
  tools?: unknown[];
  /** Retrieval documents (`documents`). */
  documents?: unknown[];
  /**
   * Leave the final message open so the model continues it (`continue_final_message`): true for `content`,
   * or the name of the field to continue. Not together with addGenerationPrompt.
   */
  continueFinalMessage?: boolean | string;
  /** Any other key reaches the template under its own name (`chat_template_kwargs`, e.g. `enable_thinking`). */
  [extra: string]: unknown;
}

// transformers appends this to the final message, renders, and cuts the text at it
const CONTINUE_TAG = 'CONTINUE_FINAL_MESSAGE_TAG ';

const invalidData = (message: string, cause?: unknown) =>
  new AlignkitError('ERR_INVALID_DATA', message, cause === undefined ? undefined : { cause });

/** A compiled chat template. */
export class ChatTemplate {
  readonly source: string;
  readonly #template: Template;

  /** `origin` names where the template came from, for parse errors. */
  constructor(source: string, origin: string) {
    this.source = source;
    try {
      this.#template = new Template(source);
    } catch (err) {
      throw new AlignkitError(
        'ERR_INVALID_MODEL',
        `${origin}: chat template does not parse (${(err as Error).message})`,
        {
          cause: err,
        },
      );
    }
  }

  /**
   * The rendered conversation. `specialTokens` are the tokenizer's named special tokens (bos_token, eos_token...);
   * option extras override them, as transformers merges `{**special_tokens_map, **kwargs}`.
   * Throws ERR_INVALID_DATA when the template raises (`raise_exception`) or cannot render these messages.
   */
  render(messages: Message[], options: ChatTemplateOptions, specialTokens: Readonly<Record<string, string>>): string {
    const { addGenerationPrompt = false, tools, documents, continueFinalMessage, ...kwargs } = options;
    if (messages.length === 0) throw invalidData('cannot apply a chat template to an empty conversation');
    let chat = messages;
    let finalText: string | undefined;
    if (continueFinalMessage) {
      if (addGenerationPrompt) {
        throw new AlignkitError(
          'ERR_INVALID_ARG',
          'continueFinalMessage and addGenerationPrompt cannot be used together',
        );
      }
      const field = typeof continueFinalMessage === 'string' ? continueFinalMessage : 'content';
      ({ chat, finalText } = this.#markFinalMessage(messages, field));
    }
    let rendered: string;
    try {
      // Bounded (template-budget.ts): a template that loops for ever or builds a huge range is an error, not a hang.
      rendered = withTemplateBudget(() =>
        this.#template.render({
          ...specialTokens,
          ...kwargs,
          messages: chat,
          tools: tools ?? null,
          documents: documents ?? null,
          add_generation_prompt: addGenerationPrompt,
        }),
      );
    } catch (err) {
      throw invalidData(
        err instanceof TemplateBudgetError
          ? `chat template ${err.message}`
          : `chat template: ${(err as Error).message}`,
        err,
      );
    }
    return finalText === undefined ? rendered : cutAtTag(rendered, finalText);
  }

  #markFinalMessage(messages: Message[], field: string): { chat: Message[]; finalText: string } {
    const last = messages[messages.length - 1]!;
    const final = last[field];
    if (final === undefined || final === null) {
      throw invalidData(`continueFinalMessage is set but the final message has no "${field}" to continue`);
    }
    if (!this.source.includes(field)) {
      throw new AlignkitError('ERR_INVALID_ARG', `continueFinalMessage: the chat template never reads "${field}"`);
    }
    let value: unknown;
    let finalText: string;
    if (Array.isArray(final)) {
      // multimodal content: continue the last block that has text
      let at = final.length - 1;
      while (at >= 0 && !(typeof final[at] === 'object' && final[at] !== null && 'text' in final[at])) at--;
      if (at < 0) throw invalidData('continueFinalMessage is set but the final message has no text to continue');
      const block = final[at] as { text: unknown };
      finalText = String(block.text);
      value = final.map((b, i) => (i === at ? { ...block, text: finalText + CONTINUE_TAG } : b));
    } else if (typeof final === 'string') {
      finalText = final;
      value = final + CONTINUE_TAG;
    } else {
      throw invalidData(`continueFinalMessage: the final message's "${field}" is not text`);
    }
    return { chat: [...messages.slice(0, -1), { ...last, [field]: value }], finalText };
  }
}

function cutAtTag(rendered: string, finalText: string): string {
  const tag = CONTINUE_TAG.trim();
  if (!rendered.includes(finalText.trim()) || !rendered.includes(tag)) {
    throw invalidData('continueFinalMessage is set but the chat template drops part of the final message');
  }
  const at = rendered.lastIndexOf(tag);
  // a template that strips the message's trailing space also ate the tag's: cut the whitespace it left as well
  const kept = rendered.slice(0, at);
  return rendered.slice(at, at + CONTINUE_TAG.length) === CONTINUE_TAG ? kept : kept.trimEnd();
}
