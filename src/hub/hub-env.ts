// The environment variables huggingface_hub reads (constants.py, utils/_auth.py, utils/_headers.py) and datasets'
// offline switch (datasets/config.py), with their precedence, so that alignkit looks where Python looks. Read at
// call time (Python reads them once at import): a test or a long-lived process may change them.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

const env = (name: string): string | undefined => process.env[name];

/** huggingface_hub's `_is_true`: 1, ON, YES, TRUE in any case. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

/** os.path.expanduser for `~` and `~/…` (the `~user` form, which needs the password database, is left as is). */
function expandUser(path: string): string {
  return path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
}

/** os.path.expandvars on POSIX: `$NAME` and `${NAME}` of set variables; unknown ones are left unchanged. */
function expandVars(path: string): string {
  return path.replace(/\$(\w+|\{[^}]*\})/g, (whole, name: string) => {
    const value = env(name.startsWith('{') ? name.slice(1, -1) : name);
    return value === undefined ? whole : value;
  });
}

const expand = (path: string) => expandVars(expandUser(path));

/** HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(): string {
  return expand(env('HF_HOME') ?? join(env('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface'));
}

/** The hub cache: HF_HUB_CACHE, else the legacy HUGGINGFACE_HUB_CACHE, else HF_HOME/hub. */
export function hubCacheDir(): string {
  return expand(env('HF_HUB_CACHE') ?? env('HUGGINGFACE_HUB_CACHE') ?? join(hfHome(), 'hub'));
}

/** Which variable made the cache dir what it is (for error messages). */
export function hubCacheSource(): string {
  if (env('HF_HUB_CACHE') !== undefined) return 'HF_HUB_CACHE';
  if (env('HUGGINGFACE_HUB_CACHE') !== undefined) return 'HUGGINGFACE_HUB_CACHE';
  if (env('HF_HOME') !== undefined) return 'HF_HOME';
  return env('XDG_CACHE_HOME') !== undefined ? 'XDG_CACHE_HOME' : 'the default ~/.cache/huggingface';
}

/**
 * Offline mode as huggingface_hub reads it: HF_HUB_OFFLINE, or when that is unset or empty TRANSFORMERS_OFFLINE
 * (transformers 5 has no switch of its own: it asks huggingface_hub). For datasets, HF_DATASETS_OFFLINE when set
 * overrides both, as `datasets.config.HF_HUB_OFFLINE` does.
 */
export function isHubOffline(repoType: 'model' | 'dataset' = 'model'): boolean {
  const datasetsOffline = env('HF_DATASETS_OFFLINE');
  if (repoType === 'dataset' && datasetsOffline !== undefined) return isTrue(datasetsOffline);
  return isTrue(env('HF_HUB_OFFLINE') || env('TRANSFORMERS_OFFLINE'));
}

/** The variable that turned offline mode on, for messages. */
export function offlineSource(repoType: 'model' | 'dataset' = 'model'): string {
  if (repoType === 'dataset' && env('HF_DATASETS_OFFLINE') !== undefined)
    return `HF_DATASETS_OFFLINE=${env('HF_DATASETS_OFFLINE')}`;
  return env('HF_HUB_OFFLINE')
    ? `HF_HUB_OFFLINE=${env('HF_HUB_OFFLINE')}`
    : `TRANSFORMERS_OFFLINE=${env('TRANSFORMERS_OFFLINE')}`;
}

/** HF_ENDPOINT without its trailing slashes, else https://huggingface.co. */
export function hubEndpoint(): string {
  return (env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '');
}

/** huggingface_hub's `_clean_token`: no CR/LF, trimmed, empty is none. */
function cleanToken(token: string | undefined): string | undefined {
  return token?.replace(/[\r\n]/g, '').trim() || undefined;
}

/**
 * The token sent with requests, as `get_token_to_send(None)` picks it: none when HF_HUB_DISABLE_IMPLICIT_TOKEN is
 * set, else HF_TOKEN, else the legacy HUGGING_FACE_HUB_TOKEN, else the file `hf auth login` writes
 * (HF_TOKEN_PATH, default HF_HOME/token). OIDC exchange and Colab secrets are not read.
 */
export function hubToken(): string | undefined {
  if (isTrue(env('HF_HUB_DISABLE_IMPLICIT_TOKEN'))) return undefined;
  const fromEnv = cleanToken(env('HF_TOKEN') || env('HUGGING_FACE_HUB_TOKEN'));
  if (fromEnv) return fromEnv;
  try {
    return cleanToken(readFileSync(hubTokenPath(), 'utf8'));
  } catch {
    return undefined;
  }
}

export function hubTokenPath(): string {
  return expand(env('HF_TOKEN_PATH') ?? join(hfHome(), 'token'));
}

/** Seconds a metadata request (repo info, tree listing) may take: HF_HUB_ETAG_TIMEOUT, default 10. */
export function metadataTimeoutSeconds(): number {
  const value = Number.parseInt(env('HF_HUB_ETAG_TIMEOUT') ?? '', 10);
  return value > 0 ? value : 10;
}
