// src/errors.ts: configError's two message shapes and fromNative's mapping of native rejections (documented code
// kept, unknown code → ERR_NATIVE, a binding's bare TypeError → ERR_INVALID_ARG; the native error is the cause).
import { describe, expect, it } from 'vitest';
import { AlignkitError, configError, fromNative, isAlignkitErrorCode } from '../src/errors.js';

const nativeError = (message: string, code?: string, Kind: ErrorConstructor = Error) =>
  Object.assign(new Kind(message), code === undefined ? {} : { code });

function caught(err: unknown): unknown {
  try {
    fromNative(err);
  } catch (thrown) {
    return thrown;
  }
  throw new Error('fromNative returned');
}

describe('configError', () => {
  it('prefixes the file (or command) it is given, else config:', () => {
    expect(configError('run.yaml', "'beta' must be a number")).toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message: "run.yaml: 'beta' must be a number",
    });
    expect(configError('fp16 is not implemented')).toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message: 'config: fp16 is not implemented',
    });
    expect(configError('x')).toBeInstanceOf(AlignkitError);
  });
});

describe('fromNative', () => {
  it('keeps a documented code and the native error as cause', () => {
    const native = nativeError('model.safetensors: bad header', 'ERR_INVALID_FILE');
    const err = caught(native);
    expect(err).toBeInstanceOf(AlignkitError);
    expect(err).toMatchObject({ code: 'ERR_INVALID_FILE', message: 'model.safetensors: bad header', cause: native });
  });

  it('turns an undocumented code into ERR_NATIVE naming it', () => {
    const native = nativeError('something broke', 'ERR_SOMETHING_NEW');
    expect(caught(native)).toMatchObject({
      code: 'ERR_NATIVE',
      message: 'something broke [native code ERR_SOMETHING_NEW]',
      cause: native,
    });
  });

  it("turns a binding's bare TypeError or RangeError into ERR_INVALID_ARG", () => {
    const type = nativeError('expected an Int32Array', undefined, TypeError);
    expect(caught(type)).toMatchObject({ code: 'ERR_INVALID_ARG', message: 'expected an Int32Array', cause: type });
    const range = nativeError('index out of range', undefined, RangeError);
    expect(caught(range)).toMatchObject({ code: 'ERR_INVALID_ARG', cause: range });
  });

  it('passes AlignkitErrors, code-less errors and non-errors through unchanged', () => {
    const own = new AlignkitError('ERR_IO', 'disk full');
    expect(caught(own)).toBe(own);
    const plain = new Error('plain');
    expect(caught(plain)).toBe(plain);
    expect(caught('a string')).toBe('a string');
  });

  it('knows exactly the documented codes', () => {
    expect(isAlignkitErrorCode('ERR_TORCH')).toBe(true);
    expect(isAlignkitErrorCode('ERR_TORCHED')).toBe(false);
    expect(isAlignkitErrorCode(42)).toBe(false);
  });
});
