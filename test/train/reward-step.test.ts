// Model.rewardStep's pooling and loss on the llama-reward fixture (scripts/fixtures/make_trl_reward_train.py): each
// row is scored at its rightmost token that is not pad_token_id, as transformers' GenericForSequenceClassification
// pools (so with the pad token also the row's last token, the score is read before it), compared with the model's
// per-position scores (Model.logits of a sequence classifier); the loss is TRL's formula on those scores.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model.js';
import { modelDir } from '../helpers/fixtures.js';

const logSigmoid = (x: number) => -Math.log1p(Math.exp(-x));

describe('rewardStep', () => {
  it('pools at the last non-pad token and takes the Bradley–Terry loss with margin and centering', async () => {
    const model = await loadModel(modelDir('llama-reward'));
    const seqLen = 6;
    const pad = 2;
    // [chosen_0, chosen_1, rejected_0, rejected_1], right padded.
    const rows = [
      [5, 6, 7, 8, 9, 10],
      [5, 6, 9, pad, pad, pad],
      [5, 6, 7, 11, pad, pad],
      [5, 6, 12, pad, pad, pad],
    ];
    // rejected_1's 4th token is real but the pad id: transformers reads its score before it.
    const lengths = [6, 3, 4, 4];
    const lastReal = [5, 2, 3, 2];
    const inputIds = Int32Array.from(rows.flat());
    const attentionMask = Uint8Array.from(rows.flatMap((row, b) => row.map((_, t) => Number(t < lengths[b]!))));
    const margin = Float32Array.of(0.5, -0.25);
    const out = await model.rewardStep(
      { inputIds, attentionMask, margin, seqLen },
      { pad_token_id: pad, center_rewards_coefficient: 0.01, backward: false, bf16: false },
    );
    const { data } = await model.logits(inputIds, attentionMask, { seqLen });
    const want = lastReal.map((t, b) => data[b * seqLen + t]!);
    Array.from(out.rewards).forEach((r, i) => expect(r).toBeCloseTo(want[i]!, 5));
    const [c0, c1, r0, r1] = want as [number, number, number, number];
    const loss =
      -(logSigmoid(c0 - r0 - 0.5) + logSigmoid(c1 - r1 + 0.25)) / 2 + (0.01 * ((c0 + r0) ** 2 + (c1 + r1) ** 2)) / 2;
    expect(out.loss).toBeCloseTo(loss, 5);
    expect(out.metrics.accuracy).toBe(((c0 > r0 ? 1 : 0) + (c1 > r1 ? 1 : 0)) / 2);
    expect(out.metrics.margin).toBeCloseTo((c0 - r0 + c1 - r1) / 2, 5);
    expect(out.metrics.min_reward).toBeCloseTo(Math.min(...want), 5);
    expect(out.metrics.max_reward).toBeCloseTo(Math.max(...want), 5);
    expect(out.num_tokens).toBe(Array.from(attentionMask).reduce((a, b) => a + b, 0));
    await model.dispose();
  });
});
