// A safetensors shard limit as transformers' max_shard_size takes it: bytes, or a size such as "5GB" or "500MiB".
import { AlignkitError } from '../errors.js';

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
};

export function parseSize(size: number | string): number {
  if (typeof size === 'number') return size;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMG]I?B|B)\s*$/i.exec(size);
  if (!match)
    throw new AlignkitError(
      'ERR_INVALID_ARG',
      `maxShardSize: expected bytes or a size like "5GB", got ${JSON.stringify(size)}`,
    );
  return Math.floor(Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]!);
}
