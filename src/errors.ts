/** Codes carried by errors from alignkit's native core (the `code` of an {@link AlignkitError}). */
export type AlignkitErrorCode =
  | 'ERR_INVALID_FILE' // a file's bytes do not describe what they claim (safetensors header, offsets, dtype)
  | 'ERR_INVALID_MODEL' // a model folder or config.json alignkit cannot turn into a model
  | 'ERR_INVALID_ARG' // arguments that do not fit (shapes, dtypes, devices)
  | 'ERR_NOT_FOUND' // a file or folder that does not exist
  | 'ERR_IO' // a write that failed
  | 'ERR_INVALID_DATA' // a dataset row or file that does not hold what was expected (names file, row, field)
  | 'ERR_INVALID_CONFIG' // a config key that is unknown or has the wrong type (names the key)
  | 'ERR_INVALID_ENV' // a torchrun variable (RANK, WORLD_SIZE, MASTER_PORT...) that is missing or malformed (names it)
  | 'ERR_PORT_IN_USE' // the launcher's MASTER_PORT is taken on MASTER_ADDR
  | 'ERR_DISTRIBUTED' // a collective or the rendezvous of data-parallel training failed (names the rank and operation)
  | 'ERR_WORKER_FAILED' // a worker of a multi-process job failed (names its rank, pid, exit code or signal)
  | 'ERR_LOCKED' // output_dir is held by another run (names its pid and host)
  | 'ERR_NOT_FINITE' // a training step's loss or gradient norm is NaN or infinite (names the step; nothing was saved from it)
  | 'ERR_HUB' // a Hugging Face Hub call failed (names the repo and what was being done)
  | 'ERR_TORCH' // libtorch itself refused (out of memory, unsupported op)
  | 'ERR_NATIVE'; // any other native failure

/** An error from alignkit; `code` says which kind, the message names the file, tensor or field. */
export class AlignkitError extends Error {
  readonly code: AlignkitErrorCode;

  constructor(code: AlignkitErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AlignkitError';
    this.code = code;
  }
}

/** Re-raises a native rejection as an AlignkitError (keeping its code); other errors pass unchanged. */
export function fromNative(err: unknown): never {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  if (typeof code === 'string') throw new AlignkitError(code as AlignkitErrorCode, (err as Error).message);
  throw err;
}
