// transformers 5.18's `apply_chat_template(..., return_assistant_tokens_mask=True)`: the character span of each
// `{% generation %}` block in the rendered chat, mapped to tokens with the Rust tokenizer's char_to_token.
//
// transformers records the spans with a Jinja extension while rendering (utils/chat_template_utils.py:
// AssistantTracker); @huggingface/jinja has no extensions, so each tag becomes `{% if true %}MARK{% endif %}`
// with the tag's own whitespace control, where MARK is a private-use character: the output is the same as
// without markers, and the markers' positions are the spans. The caller checks that the text without markers
// equals the ordinary rendering, which catches a template (or message) this does not fit.
import { AlignkitError } from '../../errors.js';
import { ChatTemplate, type ChatTemplateOptions, type Message } from '../../tokenizer/chat-template.js';

const START = '\uE000';
const END = '\uE001';

/** TRL's has_generation_markers (chat_template_utils.py). */
export function hasGenerationMarkers(template: string): boolean {
  return /\{%-?\s*generation\s*-?%\}/.test(template);
}

/** A chat template that also reports where its `{% generation %}` blocks are in the rendered text. */
export class GenerationSpans {
  readonly #template: ChatTemplate;

  constructor(source: string, origin: string) {
    // `{%- generation -%}`: the left `-` stays on the `if` (strips the text before it), the right on the `endif`
    // (strips the text after it), so whitespace control, trim_blocks and lstrip_blocks act as on the tag.
    const marked = source.replace(
      /\{%(-?)\s*(end)?generation\s*(-?)%\}/g,
      (_, left: string, end: string | undefined, right: string) =>
        `{%${left} if true %}${end ? END : START}{% endif ${right}%}`,
    );
    this.#template = new ChatTemplate(marked, origin);
  }

  /**
   * The rendered text and its generation spans `[start, end)` in code points (Python string indices), in the
   * order the blocks close, as transformers lists them.
   */
  render(
    messages: Message[],
    options: ChatTemplateOptions,
    specialTokens: Readonly<Record<string, string>>,
  ): { text: string; spans: [number, number][] } {
    const marked = this.#template.render(messages, options, specialTokens);
    const spans: [number, number][] = [];
    const open: number[] = [];
    let text = '';
    let position = 0;
    for (const char of marked) {
      if (char === START) {
        open.push(position);
      } else if (char === END) {
        const start = open.pop();
        if (start === undefined)
          throw new AlignkitError('ERR_INVALID_MODEL', 'chat template: {% endgeneration %} without {% generation %}');
        spans.push([start, position]);
      } else {
        text += char;
        position++;
      }
    }
    return { text, spans };
  }
}

/** The first token whose offsets hold code point `pos` (tokenizers' Encoding::char_to_token), or null. */
function charToToken(offsets: readonly (readonly [number, number])[], pos: number): number | null {
  for (let t = 0; t < offsets.length; t++) {
    const [start, end] = offsets[t]!;
    if (pos >= start && pos < end) return t;
  }
  return null;
}

/**
 * 1 on the tokens of the generation spans, as transformers builds `assistant_masks` (tokenization_utils_base.py:
 * apply_chat_template), quirks included: a span whose first character has no token stops the loop, and a span
 * whose last character falls in token 0 (or none) runs to the end of the sequence.
 */
export function assistantMask(
  offsets: readonly (readonly [number, number])[],
  spans: readonly (readonly [number, number])[],
): number[] {
  const mask = new Array<number>(offsets.length).fill(0);
  for (const [startChar, endChar] of spans) {
    const start = charToToken(offsets, startChar);
    if (start === null) break;
    const end = charToToken(offsets, endChar - 1);
    const stop = end ? end + 1 : offsets.length;
    for (let t = start; t < stop; t++) mask[t] = 1;
  }
  return mask;
}
