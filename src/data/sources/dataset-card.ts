// The `configs:` a dataset repo declares in its README.md YAML front matter (and `.huggingface.yaml`), read as
// datasets' MetadataConfigs: config name → its params (`data_files`, `data_dir`, `default`, ...).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { AlignkitError } from '../../errors.js';
import { SPLIT_NAME } from './data-patterns.js';

export interface DatasetConfigs {
  /** Config name → params, in the README's order. Empty when the card declares no configs. */
  configs: Map<string, Record<string, unknown>>;
  /** MetadataConfigs.get_default_config_name: the only config, the one named `default`, or the one with `default: true`. */
  defaultName: string | null;
}

// huggingface_hub's REGEX_YAML_BLOCK (RepoCard): the front matter between the first two `---` lines.
const YAML_BLOCK = /^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))/;

const cardError = (where: string, message: string) => new AlignkitError('ERR_INVALID_DATA', `${where}: ${message}`);

// PyYAML's safe_load is YAML 1.1 (`yes` is true) and lets a later duplicate key win.
const parseYaml = (text: string, where: string): unknown => {
  try {
    return parse(text, { version: '1.1', uniqueKeys: false });
  } catch (err) {
    throw cardError(where, `invalid YAML (${(err as Error).message})`);
  }
};

/** The card metadata of a dataset folder: README.md front matter, updated by `.huggingface.yaml` when present. */
function cardData(dir: string): Record<string, unknown> {
  let data: Record<string, unknown> = {};
  const readme = join(dir, 'README.md');
  if (existsSync(readme)) {
    const match = YAML_BLOCK.exec(readFileSync(readme, 'utf8'));
    if (match) {
      const parsed = parseYaml(match[2]!, readme) ?? {};
      if (typeof parsed !== 'object' || Array.isArray(parsed))
        throw cardError(readme, 'the YAML front matter must be a mapping');
      data = parsed as Record<string, unknown>;
    }
  }
  const standalone = join(dir, '.huggingface.yaml');
  if (existsSync(standalone)) {
    const parsed = parseYaml(readFileSync(standalone, 'utf8'), standalone);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      data = { ...data, ...(parsed as Record<string, unknown>) };
  }
  return data;
}

/** datasets' MetadataConfigs._raise_if_data_files_field_not_valid. */
function checkDataFiles(value: unknown, where: string): void {
  if (value === undefined || value === null || typeof value === 'string') return;
  const valid =
    Array.isArray(value) &&
    value.every((item) => {
      if (typeof item === 'string') return true;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) return false;
      const entry = item as Record<string, unknown>;
      return (
        Object.keys(entry).length === 2 &&
        typeof entry.split === 'string' &&
        SPLIT_NAME.test(entry.split) &&
        (typeof entry.path === 'string' || Array.isArray(entry.path))
      );
    });
  if (!valid) {
    throw cardError(
      where,
      `data_files must be a string, a list of strings or a list of {split, path}, got ${JSON.stringify(value)}`,
    );
  }
}

/** The configs a dataset folder's card declares (none when it has no README.md or no `configs:`). */
export function readDatasetConfigs(dir: string): DatasetConfigs {
  const where = join(dir, 'README.md');
  const raw = cardData(dir).configs;
  const configs = new Map<string, Record<string, unknown>>();
  // Python truthiness, as datasets tests the field: an empty list declares no configs.
  if (raw !== undefined && raw !== null && raw !== false && raw !== '' && !(Array.isArray(raw) && raw.length === 0)) {
    if (!Array.isArray(raw)) throw cardError(where, `'configs' must be a list, got ${JSON.stringify(raw)}`);
    for (const entry of raw) {
      if (typeof entry !== 'object' || entry === null || !('config_name' in entry)) {
        throw cardError(where, `each entry of 'configs' needs a config_name, got ${JSON.stringify(entry)}`);
      }
      const { config_name: name, ...params } = entry as Record<string, unknown>;
      checkDataFiles(params.data_files, `${where} (config '${String(name)}')`);
      configs.set(String(name), params);
    }
  }
  let defaultName: string | null = null;
  for (const [name, params] of configs) {
    if (configs.size === 1 || name === 'default' || params.default) {
      if (defaultName !== null) throw cardError(where, `several default configs: '${defaultName}' and '${name}'`);
      defaultName = name;
    }
  }
  return { configs, defaultName };
}
