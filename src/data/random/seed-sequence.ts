// NumPy's SeedSequence (numpy/random/bit_generator.pyx), the hashing that turns an integer seed into the
// state words of a bit generator: `np.random.default_rng(seed)` seeds PCG64 with generate_state(4, uint64).
// All arithmetic is on uint32 words, as in NumPy.
import { AlignkitError } from '../../errors.js';

const POOL_SIZE = 4;
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const XSHIFT = 16;

/** A non-negative integer seed as NumPy's `_coerce_to_uint32_array` splits it: 32-bit words, least significant first. */
export function seedWords(seed: number | bigint): number[] {
  if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
    throw new AlignkitError('ERR_INVALID_ARG', `seed must be an integer (a bigint beyond 2^53), got ${seed}`);
  }
  let rest = BigInt(seed);
  if (rest < 0n)
    throw new AlignkitError('ERR_INVALID_ARG', `seed must be non-negative (as NumPy requires), got ${seed}`);
  if (rest === 0n) return [0];
  const words: number[] = [];
  for (; rest > 0n; rest >>= 32n) words.push(Number(rest & 0xffffffffn));
  return words;
}

/** The entropy pool of `np.random.SeedSequence(seed)` (no spawn key): 4 uint32 words. */
export function seedPool(seed: number | bigint): Uint32Array {
  const entropy = seedWords(seed);
  const pool = new Uint32Array(POOL_SIZE);
  let hashConst = INIT_A;
  const hashmix = (value: number): number => {
    value = (value ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_A) >>> 0;
    value = Math.imul(value, hashConst) >>> 0;
    return (value ^ (value >>> XSHIFT)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    const result = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
    return (result ^ (result >>> XSHIFT)) >>> 0;
  };
  for (let i = 0; i < POOL_SIZE; i++) pool[i] = hashmix(i < entropy.length ? entropy[i]! : 0);
  // Mix all bits together so late bits can affect earlier ones.
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) {
      if (src !== dst) pool[dst] = mix(pool[dst]!, hashmix(pool[src]!));
    }
  }
  // Entropy beyond the pool size is mixed into every pool word.
  for (let src = POOL_SIZE; src < entropy.length; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) pool[dst] = mix(pool[dst]!, hashmix(entropy[src]!));
  }
  return pool;
}

/** `SeedSequence(seed).generate_state(nWords, np.uint32)`. */
export function generateState32(seed: number | bigint, nWords: number): Uint32Array {
  const pool = seedPool(seed);
  const state = new Uint32Array(nWords);
  let hashConst = INIT_B;
  for (let i = 0; i < nWords; i++) {
    let value = (pool[i % POOL_SIZE]! ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_B) >>> 0;
    value = Math.imul(value, hashConst) >>> 0;
    state[i] = (value ^ (value >>> XSHIFT)) >>> 0;
  }
  return state;
}
