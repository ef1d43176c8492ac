// Reading safetensors files from TS through the native validating reader.
import { fromNative } from './errors.js';
import { native } from './native.js';
import type { SafetensorsData } from './types/tensor.js';

export interface SafetensorsTensor {
  /** Stored dtype: F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL. */
  dtype: string;
  shape: number[];
  /** Float32Array for F32/F16/BF16 (half types widened); the matching typed array otherwise. */
  data: SafetensorsData;
}

export interface SafetensorsContents {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** Reads every tensor of a safetensors file, after checking its header against the file. */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  const { tensors, metadata } = await native().readSafetensors(path).catch(fromNative);
  return { tensors: new Map(tensors.map(({ name, ...t }) => [name, t])), metadata };
}
