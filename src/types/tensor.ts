// The arrays that cross the addon boundary: token and mask rows going in, dense tensors coming out.

/** A 0/1 mask, as Int32Array or Uint8Array. */
export type IndexArray = Int32Array | Uint8Array;

/** Token ids as rows of equal length, or a flat array with `seqLen` (one row when omitted). */
export type TokenRows = Int32Array | number[][];
export type MaskRows = IndexArray | number[][];

/** A dense float32 result and its shape, e.g. logits (batch, seqLen, vocab) in row-major order. */
export interface Tensor {
  data: Float32Array;
  shape: number[];
}

/** A safetensors tensor's values: Float32Array for F32/F16/BF16 (half types widened), the matching typed array otherwise. */
export type SafetensorsData =
  Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
