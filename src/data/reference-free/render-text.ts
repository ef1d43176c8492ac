// TRL's maybe_apply_chat_template on a preference example, as the experimental ORPO/CPO trainers run it before
// their tokenize_row: conversations become text — the prompt with the generation prompt (or continuing a final
// assistant message), each completion as the rendered prompt + completion minus the prompt's text, the prompt cut
// to the prefix all three renderings share (DeepSeek-R1's templates add a token after the generation prompt).
// Plain-text rows pass unchanged: these trainers append EOS as a token, not as text.
import { AlignkitError } from '../../errors.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { Turn } from '../extract-prompt.js';
import type { PreferenceExample } from '../preference-rows.js';
import { dataError } from '../row-context.js';

export interface PreferenceText {
  prompt: string;
  chosen: string;
  rejected: string;
}

const commonPrefix = (a: string, b: string) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
};

export function renderPreferenceText(ex: PreferenceExample, tokenizer: Tokenizer): PreferenceText {
  if (!ex.conversational)
    return { prompt: ex.prompt as string, chosen: ex.chosen as string, rejected: ex.rejected as string };
  const prompt = ex.prompt as Turn[];
  const kwargs = { tools: ex.tools, ...ex.chatTemplateKwargs };
  const lastRole = prompt.at(-1)?.role;
  if (lastRole !== 'user' && lastRole !== 'tool' && lastRole !== 'assistant')
    throw dataError(
      ex.at,
      'prompt',
      `the last message's role must be user, tool or assistant, got ${String(lastRole)}`,
    );
  try {
    const continues = lastRole === 'assistant';
    let promptText = tokenizer.applyChatTemplate(prompt, {
      ...kwargs,
      addGenerationPrompt: !continues,
      continueFinalMessage: continues,
    });
    const chosen = tokenizer.applyChatTemplate([...prompt, ...(ex.chosen as Turn[])], kwargs);
    const rejected = tokenizer.applyChatTemplate([...prompt, ...(ex.rejected as Turn[])], kwargs);
    promptText = commonPrefix(commonPrefix(promptText, chosen), rejected);
    return {
      prompt: promptText,
      chosen: chosen.slice(promptText.length),
      rejected: rejected.slice(promptText.length),
    };
  } catch (err) {
    // The template's own message ("chat template: ...") with the row it failed on.
    if (err instanceof AlignkitError)
      throw new AlignkitError(err.code, `${ex.at.file}: row ${ex.at.row}: ${err.message}`, { cause: err });
    throw err;
  }
}
