// NumPy's PCG64 bit generator (numpy/random/src/pcg64): a 128-bit LCG whose state is turned into 64 output
// bits by XSL-RR (xor the halves, rotate right by the top 6 bits). `np.random.default_rng(seed)` is a
// Generator over PCG64 seeded through SeedSequence; datasets' shuffle / train_test_split draw from it.
//
// The 128-bit state is held as eight 16-bit limbs (least significant first) so a step is plain double
// arithmetic: a 16x16-bit product and the sums of eight of them stay far below 2^53. BigInt is used only to seed.
import { generateState32 } from './seed-sequence.js';

const LIMBS = 8;
/** PCG_DEFAULT_MULTIPLIER_128 = 0x2360ED051FC65DA44385DF649FCCF645. */
const MULTIPLIER = 0x2360ed051fc65da44385df649fccf645n;
const MASK128 = (1n << 128n) - 1n;

function toLimbs(value: bigint): Float64Array {
  const limbs = new Float64Array(LIMBS);
  for (let i = 0; i < LIMBS; i++) limbs[i] = Number((value >> BigInt(16 * i)) & 0xffffn);
  return limbs;
}

function fromLimbs(limbs: Float64Array): bigint {
  let value = 0n;
  for (let i = LIMBS - 1; i >= 0; i--) value = (value << 16n) | BigInt(limbs[i]!);
  return value;
}

export class Pcg64 {
  private readonly state: Float64Array;
  private readonly inc: Float64Array;
  private readonly mult = toLimbs(MULTIPLIER);
  /** next32's buffer: the high half of the last 64-bit output, handed out on the next call. */
  private hasUint32 = false;
  private uinteger = 0;

  /** The generator `np.random.PCG64(seed)` (SeedSequence hashing of a non-negative integer seed). */
  static fromSeed(seed: number | bigint): Pcg64 {
    const words = generateState32(seed, 8);
    // generate_state(4, uint64): the uint32 words read as little-endian uint64 pairs.
    const u64 = (i: number) => (BigInt(words[2 * i + 1]!) << 32n) | BigInt(words[2 * i]!);
    const initState = (u64(0) << 64n) | u64(1);
    const initSeq = (u64(2) << 64n) | u64(3);
    // pcg_setseq_128_srandom_r: state 0, step, add initstate, step.
    const inc = ((initSeq << 1n) | 1n) & MASK128;
    const step = (s: bigint) => (s * MULTIPLIER + inc) & MASK128;
    return new Pcg64(step(step(0n) + initState), inc);
  }

  constructor(state: bigint, inc: bigint) {
    this.state = toLimbs(state);
    this.inc = toLimbs(inc);
  }

  /** The 128-bit state and increment, as `PCG64().state['state']` reports them. */
  get stateValue(): { state: bigint; inc: bigint } {
    return { state: fromLimbs(this.state), inc: fromLimbs(this.inc) };
  }

  /** state = state * MULTIPLIER + inc (mod 2^128). */
  private step(): void {
    const s = this.state;
    const m = this.mult;
    const next = new Float64Array(LIMBS);
    let carry = 0;
    for (let k = 0; k < LIMBS; k++) {
      let acc = carry + this.inc[k]!;
      for (let i = 0; i <= k; i++) acc += s[i]! * m[k - i]!;
      const low = acc % 65536;
      next[k] = low;
      carry = (acc - low) / 65536;
    }
    s.set(next);
  }

  /**
   * The next 64-bit output as [low 32 bits, high 32 bits] (pcg64_random_r: step, then XSL-RR of the new state).
   */
  next64(): [number, number] {
    this.step();
    const s = this.state;
    const lo = ((s[1]! * 65536 + s[0]!) ^ (s[5]! * 65536 + s[4]!)) >>> 0;
    const hi = ((s[3]! * 65536 + s[2]!) ^ (s[7]! * 65536 + s[6]!)) >>> 0;
    const rot = s[7]! >>> 10; // state >> 122
    if (rot === 0) return [lo, hi];
    if (rot < 32) return [((lo >>> rot) | (hi << (32 - rot))) >>> 0, ((hi >>> rot) | (lo << (32 - rot))) >>> 0];
    if (rot === 32) return [hi, lo];
    const r = rot - 32;
    return [((hi >>> r) | (lo << (32 - r))) >>> 0, ((lo >>> r) | (hi << (32 - r))) >>> 0];
  }

  /** pcg64_next32: the low half of a fresh 64-bit output, then its high half on the next call. */
  next32(): number {
    if (this.hasUint32) {
      this.hasUint32 = false;
      return this.uinteger;
    }
    const [lo, hi] = this.next64();
    this.hasUint32 = true;
    this.uinteger = hi;
    return lo;
  }
}
