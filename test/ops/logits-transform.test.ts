// The fused log-prob kernels with a family's final-logit transform (native/ops/logits_transform.h: Gemma 2/3's
// final_logit_softcapping, Granite's logits_scaling, and both) against torch on recorded hidden states and lm_head
// weights (scripts/fixtures/make_logits_transform.py): log-probs, TRL's statistics of the transformed logits and the
// gradients in hidden and weight, for fusedLinearLogProbs over tilings that do and do not divide the rows (37) and
// the vocabulary (300), fusedLinearLogProbsLoss (the gradient made in the forward) and logprobsReference. Rows 0
// and 1 tie exactly on capped logits (tanh saturated): argmax == label must take the first maximum, as torch.
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { maxAbs, reference } from '../helpers/fixtures.js';

interface Values {
  data: Float32Array;
  shape: number[];
}
interface ProbeResult {
  logps: Values;
  meanLogit: Values;
  entropy: Values;
  logSumSquaredProbs: Values;
  correct: { data: Uint8Array };
  dHidden: Values;
  dWeight: Values;
}
interface ProbeOptions {
  op?: 'fused' | 'loss' | 'reference';
  rowChunk?: number;
  vocabChunk?: number;
  logits_scaling?: number;
  final_logit_softcapping?: number;
  bf16?: boolean;
}
// binding/logprobs_probe.cc: the kernels on given tensors, without a model.
type Probe = (
  hidden: Float32Array,
  weight: Float32Array,
  labels: Int32Array,
  gradOutput: Float32Array,
  hiddenSize: number,
  options: ProbeOptions,
) => Promise<ProbeResult>;
const probe = (...args: Parameters<Probe>) => (native() as unknown as { probeLogProbs: Probe }).probeLogProbs(...args);

const CASES = ['softcap', 'scaling', 'both'] as const;
const HIDDEN = 32;

type Ref = (key: string) => { data: ArrayLike<number> };

async function problem() {
  const ref = (await reference('logits-transform')) as Ref;
  const f32 = (key: string) => ref(key).data as Float32Array;
  const labels = ref('labels').data as Int32Array;
  const scaling = ref('scaling').data as Float64Array;
  const softcap = ref('softcap').data as Float64Array;
  const transform = (name: (typeof CASES)[number]) => ({
    logits_scaling: scaling[CASES.indexOf(name)]!,
    final_logit_softcapping: softcap[CASES.indexOf(name)]!,
  });
  // A chunk size of 0 stands for the device's default (the option left out).
  const run = ({ rowChunk, vocabChunk, ...options }: ProbeOptions) =>
    probe(f32('hidden'), f32('weight'), labels, f32('grad_output'), HIDDEN, {
      ...options,
      ...(rowChunk ? { rowChunk } : {}),
      ...(vocabChunk ? { vocabChunk } : {}),
    });
  return { ref, labels, transform, run };
}

// Largest |got - want| / max(1, |want|), rows where `keep` is false (labels < 0 in loss mode: every statistic 0
// there) compared with 0.
function maxRelDiff(got: ArrayLike<number>, want: ArrayLike<number>, keep?: (i: number) => boolean): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const w = !keep || keep(i) ? want[i]! : 0;
    worst = Math.max(worst, Math.abs(got[i]! - w) / Math.max(1, Math.abs(w)));
  }
  return worst;
}

function maxAbsDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  return worst;
}

const STATS = [
  ['logps', 'logps'],
  ['meanLogit', 'mean_logit'],
  ['entropy', 'entropy'],
  ['logSumSquaredProbs', 'log_sum_p2'],
] as const;

// Values within `rel` (relative, absolute below 1), gradients within abs + gradRel * their scale, and `correct`
// equal unless `correctMay` rows may differ.
function expectMatches(
  got: ProbeResult,
  ref: Ref,
  prefix: string,
  labels: Int32Array,
  tol: { rel: number; gradRel: number; lossMode?: boolean; correctMay?: number },
) {
  const keep = tol.lossMode ? (i: number) => labels[i]! >= 0 : undefined;
  for (const [ours, theirs] of STATS) {
    const diff = maxRelDiff(got[ours].data, ref(`${prefix}.${theirs}`).data, keep);
    expect(diff, `${prefix} ${ours}: max relative diff ${diff}`).toBeLessThanOrEqual(tol.rel);
  }
  const want = ref(`${prefix}.correct`).data;
  const wrong = [...got.correct.data].filter((c, i) => c !== want[i]).length;
  expect(wrong, `${prefix} correct: ${wrong} rows differ`).toBeLessThanOrEqual(tol.correctMay ?? 0);
  for (const [ours, theirs] of [
    ['dHidden', 'grad_hidden'],
    ['dWeight', 'grad_weight'],
  ] as const) {
    const expected = ref(`${prefix}.${theirs}`).data;
    const diff = maxAbsDiff(got[ours].data, expected);
    expect(diff, `${prefix} ${ours}: max abs diff ${diff}`).toBeLessThanOrEqual(1e-6 + tol.gradRel * maxAbs(expected));
  }
}

describe.each(CASES)('final-logit transform %s, float32', (name) => {
  const chunks: [number, number][] = [
    [0, 0],
    [1, 1],
    [7, 37],
    [5, 100],
    [37, 300],
    [64, 1000],
  ];
  it.each(chunks)('fusedLinearLogProbs, rowChunk %i x vocabChunk %i, matches torch', async (rowChunk, vocabChunk) => {
    const { ref, labels, transform, run } = await problem();
    const got = await run({ op: 'fused', rowChunk, vocabChunk, ...transform(name) });
    expectMatches(got, ref, name, labels, { rel: 1e-5, gradRel: 1e-5 });
  });

  it.each([0, 1, 7, 37])('fusedLinearLogProbsLoss, rowChunk %i, matches torch', async (rowChunk) => {
    const { ref, labels, transform, run } = await problem();
    const got = await run({ op: 'loss', rowChunk, ...transform(name) });
    expectMatches(got, ref, name, labels, { rel: 1e-5, gradRel: 1e-5, lossMode: true });
  });

  it('logprobsReference matches torch', async () => {
    const { ref, labels, transform, run } = await problem();
    expectMatches(await run({ op: 'reference', ...transform(name) }), ref, name, labels, {
      rel: 1e-5,
      gradRel: 1e-5,
    });
  });
});

// Under bfloat16 autocast the lm_head matmul is bfloat16 and the transform float32 on its rounded logits: torch
// doing the same (softcap.bf16) agrees to float32 precision, the gradients to one bfloat16 rounding of their
// scale (dZ, dH and dW are rounded to bfloat16 as autograd through an autocast linear does).
describe('final-logit soft-cap under bf16 autocast', () => {
  it.each([
    ['fused', 0, 0],
    ['fused', 7, 37],
    ['loss', 0, 0],
    ['loss', 7, 0],
    ['reference', 0, 0],
  ] as const)('%s (rowChunk %i, vocabChunk %i) matches torch with the transform in float32', async (op, r, v) => {
    const { ref, labels, transform, run } = await problem();
    const got = await run({ op, rowChunk: r, vocabChunk: v, bf16: true, ...transform('softcap') });
    expectMatches(got, ref, 'softcap.bf16', labels, { rel: 1e-5, gradRel: 2 ** -8, lossMode: op === 'loss' });
  });

  // transformers divides, tanh's and multiplies in bfloat16 (softcap.bf16_hf): three more roundings of each capped
  // logit z (|z| <= cap), each by at most u = 2^-8 of it, so the log-probs and statistics move by at most about
  // 2 * 3 u cap, and capped logits that round to one bfloat16 value tie, which flips argmax == label on some rows.
  it('differs from transformers bfloat16 soft-cap by its extra roundings only', async () => {
    const { ref, transform, run } = await problem();
    const got = await run({ op: 'fused', bf16: true, ...transform('softcap') });
    const cap = transform('softcap').final_logit_softcapping;
    const bound = 2 * 3 * 2 ** -8 * cap;
    for (const [ours, theirs] of STATS) {
      const diff = maxAbsDiff(got[ours].data, ref(`softcap.bf16_hf.${theirs}`).data);
      expect(diff, `${ours}: max abs diff ${diff} from transformers' bfloat16 soft-cap`).toBeLessThanOrEqual(bound);
    }
    const grad = ref('softcap.bf16_hf.grad_hidden').data;
    const gradDiff = maxAbsDiff(got.dHidden.data, grad);
    expect(gradDiff).toBeLessThanOrEqual(4 * 3 * 2 ** -8 * maxAbs(grad));
  });
});

describe('final-logit transform arguments', () => {
  it.each([
    [{ logits_scaling: 0 }, /logits_scaling must be a finite non-zero number/],
    [{ logits_scaling: Infinity }, /logits_scaling must be a finite non-zero number/],
    [{ final_logit_softcapping: -1 }, /final_logit_softcapping must be a finite number >= 0/],
  ])('rejects %o', async (options, message) => {
    const { run } = await problem();
    await expect(run({ op: 'fused', ...options })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringMatching(message),
    });
    await expect(run({ op: 'loss', ...options })).rejects.toThrow(message);
    await expect(run({ op: 'reference', ...options })).rejects.toThrow(message);
  });
});
