// Reads the tokenizer files of a Hugging Face model folder, the ones transformers 5 reads.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AlignkitError } from '../errors.js';
import { readModelJson, readModelText } from '../io/model-file.js';

export type Json = Record<string, unknown>;

/** A tokenizer folder's files, parsed; missing optional files are `undefined` (config: `{}`). */
export interface TokenizerFolder {
  dir: string;
  /** tokenizer.json (the `tokenizers` serialization). */
  tokenizer: Json;
  /** tokenizer_config.json. */
  config: Json;
  /** special_tokens_map.json, which transformers only reads when the config has no `added_tokens_decoder`. */
  specialTokensMap?: Json;
  /** config.json's `model_type`, which decides the tokenizer class for some hub folders. */
  modelType?: string;
  /** Chat templates by name ("default" is the one used without a name). */
  chatTemplates: Record<string, string>;
}

const CHAT_TEMPLATE_FILE = 'chat_template.jinja';
const CHAT_TEMPLATE_DIR = 'additional_chat_templates';

// Regular files only, and errors that never quote what was read (io/model-file.ts).
const readText = (path: string) => readModelText(path);
const readJson = (path: string) => readModelJson(path);

/**
 * The chat templates as transformers 5 finds them: chat_template.jinja and additional_chat_templates/*.jinja
 * win over `chat_template` in tokenizer_config.json (a string, or a list of {name, template}).
 */
async function readChatTemplates(dir: string, config: Json): Promise<Record<string, string>> {
  const templates: Record<string, string> = {};
  const main = await readText(join(dir, CHAT_TEMPLATE_FILE));
  if (main !== undefined) templates.default = main;
  const extraDir = join(dir, CHAT_TEMPLATE_DIR);
  const extra = await readdir(extraDir).catch(() => [] as string[]);
  for (const file of extra.filter((f) => f.endsWith('.jinja')).sort()) {
    templates[file.slice(0, -'.jinja'.length)] = (await readText(join(extraDir, file)))!;
  }
  if (Object.keys(templates).length > 0) return templates;

  const inConfig = config.chat_template;
  if (typeof inConfig === 'string') return { default: inConfig };
  if (Array.isArray(inConfig)) {
    for (const entry of inConfig) {
      const { name, template } = (entry ?? {}) as Json;
      if (typeof name !== 'string' || typeof template !== 'string') {
        throw new AlignkitError(
          'ERR_INVALID_MODEL',
          `${join(dir, 'tokenizer_config.json')}: chat_template entries must be {"name": string, "template": string}`,
        );
      }
      templates[name] = template;
    }
  } else if (inConfig !== undefined && inConfig !== null) {
    const where = join(dir, 'tokenizer_config.json');
    throw new AlignkitError('ERR_INVALID_MODEL', `${where}: chat_template must be a string or a list`);
  }
  return templates;
}

/** Reads `dir`'s tokenizer files; tokenizer.json is required (alignkit has no slow-tokenizer converters). */
export async function readTokenizerFolder(dir: string): Promise<TokenizerFolder> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new AlignkitError('ERR_NOT_FOUND', `tokenizer folder ${dir} does not exist`);
  const tokenizer = await readJson(join(dir, 'tokenizer.json'));
  if (!tokenizer) {
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `${join(dir, 'tokenizer.json')} not found: alignkit loads fast tokenizers only; convert a folder that has ` +
        'only tokenizer.model or vocab.json/merges.txt with transformers ' +
        '(AutoTokenizer.from_pretrained(dir).save_pretrained(dir))',
    );
  }
  const config = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const modelConfig = await readJson(join(dir, 'config.json'));
  return {
    dir,
    tokenizer,
    config,
    specialTokensMap: await readJson(join(dir, 'special_tokens_map.json')),
    modelType: typeof modelConfig?.model_type === 'string' ? modelConfig.model_type : undefined,
    chatTemplates: await readChatTemplates(dir, config),
  };
}
