// alignkit's one error module: the error class, its documented codes (docs/troubleshooting.md has a section per
// code), the config-error helper every module uses, and the bridge from native rejections.

/** Every code an {@link AlignkitError} carries; a runtime list so native codes can be checked against it. */
export const ALIGNKIT_ERROR_CODES = [
  'ERR_INVALID_FILE', // a file's bytes do not describe what they claim (safetensors header, offsets, dtype)
  'ERR_INVALID_MODEL', // a model folder or config.json alignkit cannot turn into a model
  'ERR_INVALID_ARG', // arguments that do not fit (shapes, dtypes, devices, a negative seed)
  'ERR_NOT_FOUND', // a file or folder that does not exist
  'ERR_IO', // a write that failed
  'ERR_INVALID_DATA', // a dataset row or file that does not hold what was expected (names file, row, field)
  'ERR_INVALID_CONFIG', // a config key that is unknown or has the wrong type (names the key)
  'ERR_INVALID_ENV', // a torchrun variable (RANK, WORLD_SIZE, MASTER_PORT...) that is missing or malformed (names it)
  'ERR_PORT_IN_USE', // the launcher's MASTER_PORT is taken on MASTER_ADDR
  'ERR_DISTRIBUTED', // a collective or the rendezvous of data-parallel training failed (names the rank and operation)
  'ERR_WORKER_FAILED', // a worker of a multi-process job failed (names its rank, pid, exit code or signal)
  'ERR_LOCKED', // output_dir is held by another run (names its pid and host)
  'ERR_NOT_FINITE', // a training step's loss or gradient norm is NaN or infinite (names the step; nothing was saved from it)
  'ERR_HUB', // a Hugging Face Hub call failed (names the repo and what was being done)
  'ERR_TORCH', // libtorch itself refused (out of memory, unsupported op)
  'ERR_NATIVE', // any other native failure
] as const;

/** The `code` of an {@link AlignkitError}. */
export type AlignkitErrorCode = (typeof ALIGNKIT_ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ALIGNKIT_ERROR_CODES);

/** Whether `code` is one of the documented {@link AlignkitErrorCode}s. */
export function isAlignkitErrorCode(code: unknown): code is AlignkitErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

/** An error from alignkit; `code` says which kind, the message names the file, tensor or field. */
export class AlignkitError extends Error {
  readonly code: AlignkitErrorCode;

  constructor(code: AlignkitErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AlignkitError';
    this.code = code;
  }
}

/**
 * An ERR_INVALID_CONFIG error. With `where` (a config file, or a command) the message reads `where: message`;
 * without it, `config: message` (the merged config of a run, where no single file is to blame).
 */
export function configError(message: string): AlignkitError;
export function configError(where: string, message: string): AlignkitError;
export function configError(whereOrMessage: string, message?: string): AlignkitError {
  return message === undefined
    ? new AlignkitError('ERR_INVALID_CONFIG', `config: ${whereOrMessage}`)
    : new AlignkitError('ERR_INVALID_CONFIG', `${whereOrMessage}: ${message}`);
}

/**
 * Re-raises a native rejection as an AlignkitError with the native error as its `cause`: a documented code is kept,
 * any other code becomes ERR_NATIVE naming the native code; a binding's argument check (a TypeError or RangeError
 * without a code) becomes ERR_INVALID_ARG. Other errors pass unchanged.
 */
export function fromNative(err: unknown): never {
  if (err instanceof AlignkitError || !(err instanceof Error)) throw err;
  const code = (err as Error & { code?: unknown }).code;
  if (isAlignkitErrorCode(code)) throw new AlignkitError(code, err.message, { cause: err });
  if (code !== undefined)
    throw new AlignkitError('ERR_NATIVE', `${err.message} [native code ${String(code)}]`, { cause: err });
  if (err instanceof TypeError || err instanceof RangeError)
    throw new AlignkitError('ERR_INVALID_ARG', err.message, { cause: err });
  throw err;
}
