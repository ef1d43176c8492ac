// Which files of a repo to fetch. Patterns filter as huggingface_hub's filter_repo_objects does (snapshot_download's
// allow_patterns): fnmatch, where `*` also crosses `/`, and a pattern ending in `/` means everything below it. A
// model without patterns gets what alignkit loads: config, generation config, tokenizer, chat template,
// safetensors weights (+ index) and PEFT adapter files, never the other weight formats.
import { AlignkitError } from '../errors.js';

/** Python's fnmatch.translate, anchored: `*` any run of characters, `?` one, `[seq]`/`[!seq]` a set. */
export function fnmatchRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      out += '.*';
      while (pattern[i + 1] === '*') i++;
    } else if (c === '?') {
      out += '.';
    } else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) {
        out += '\\[';
        continue;
      }
      let set = pattern.slice(i + 1, j).replace(/\\/g, '\\\\');
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      else if (set.startsWith('^')) set = `\\${set}`;
      out += `[${set.replace(/\]/g, '\\]')}]`;
      i = j;
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`, 's');
}

/** filter_repo_objects: the paths matching any of `allow` (all when null) and none of `ignore`. */
export function filterRepoFiles(
  paths: readonly string[],
  allow: readonly string[] | null,
  ignore: readonly string[] = [],
): string[] {
  const compile = (patterns: readonly string[]) =>
    patterns.map((p) => p.replace(/\\/g, '/')).map((p) => fnmatchRegExp(p.endsWith('/') ? `${p}*` : p));
  const allowed = allow === null ? null : compile(allow);
  const ignored = compile(ignore);
  return paths.filter((raw) => {
    const path = raw.replace(/\\/g, '/');
    return (allowed === null || allowed.some((re) => re.test(path))) && !ignored.some((re) => re.test(path));
  });
}

/** The top-level files a model folder needs: configs, tokenizer, chat template, safetensors weights and index. */
export const MODEL_FILE_PATTERNS = [
  '*.json',
  '*.safetensors',
  '*.jinja',
  '*.model',
  '*.tiktoken',
  'merges.txt',
  'vocab.txt',
];

/** Weight formats alignkit does not read: never fetched. */
const OTHER_WEIGHTS = /\.(bin|pt|pth|h5|msgpack|ckpt|onnx|gguf|ot)$/;

/**
 * The files of a model repo to fetch: {@link MODEL_FILE_PATTERNS} at the top level. Refuses a repo whose only
 * weights are in another format, before anything is downloaded.
 */
export function modelFiles(paths: readonly string[], where: string): string[] {
  const top = paths.filter((p) => !p.includes('/'));
  const chosen = filterRepoFiles(top, MODEL_FILE_PATTERNS);
  const others = top.filter((p) => OTHER_WEIGHTS.test(p));
  if (!chosen.some((p) => p.endsWith('.safetensors')) && others.length > 0) {
    throw new AlignkitError(
      'ERR_INVALID_MODEL',
      `${where} has weights only as ${others.slice(0, 3).join(', ')}: alignkit reads ` +
        "safetensors weights. Use a revision that has model.safetensors (the hub's conversion bot often opened one as refs/pr/N), " +
        'or convert the checkpoint with transformers (save_pretrained writes safetensors).',
    );
  }
  return chosen;
}
