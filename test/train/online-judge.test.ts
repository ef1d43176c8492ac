// Online DPO's ranking: best vs worst per prompt with ties skipped and counted, the config's rule judges, and the
// errors for a missing, doubled or malformed judge.
import { describe, expect, it } from 'vitest';
import { resolveConfig, type OnlineDpoConfig } from '../../src/config/load-config.js';
import { judgeScorer, judgeSource, pairBestWorst, type ScoreJudge } from '../../src/train/online-judge.js';

const config = (extra: Record<string, unknown> = {}) =>
  resolveConfig({ trainer: 'online_dpo', ...extra }) as OnlineDpoConfig;
const row = { prompt: 'p', row: { prompt: 'p' }, at: { file: 'prompts.jsonl', row: 3 } };

async function scores(source: ReturnType<typeof judgeSource>, completions: string[]) {
  if (!('judge' in source)) throw new Error('expected a judge function');
  return (await judgeScorer(source.judge)([row], [completions]))[0];
}

describe('online DPO pairing', () => {
  it('pairs the first best completion with the first worst', () => {
    expect(
      pairBestWorst([
        [0.2, 0.9, -1, 0.9],
        [3, 1],
      ]),
    ).toEqual({
      pairs: [
        { prompt: 0, chosen: 1, rejected: 2 },
        { prompt: 1, chosen: 0, rejected: 1 },
      ],
      ties: 0,
    });
  });

  it('skips and counts prompts whose completions all score the same', () => {
    expect(
      pairBestWorst([
        [1, 1],
        [0, 1],
        [-2, -2, -2],
      ]),
    ).toEqual({ pairs: [{ prompt: 1, chosen: 1, rejected: 0 }], ties: 2 });
  });

  it('leaves completions marked NaN out; fewer than two left is a tie', () => {
    expect(
      pairBestWorst([
        [Number.NaN, 0, 2, Number.NaN],
        [5, Number.NaN],
        [Number.NaN, Number.NaN],
        [3, Number.NaN, 3],
      ]),
    ).toEqual({
      pairs: [{ prompt: 0, chosen: 2, rejected: 1 }],
      ties: 3,
    });
  });
});

describe('online DPO judges', () => {
  it('judge_regex scores 1 on a match, else 0', async () => {
    expect(
      await scores(judgeSource(config({ judge_regex: '^[A-Z .]+$' }), undefined), ['THE OWL.', 'the owl.']),
    ).toEqual([1, 0]);
  });

  it('judge_length_target scores minus the distance in characters', async () => {
    expect(
      await scores(judgeSource(config({ judge_length_target: 5 }), undefined), ['abc', 'abcde', 'abcdefgh']),
    ).toEqual([-2, -0, -3]);
  });

  it('takes the function passed to train(), with the prompt row', async () => {
    const judge: ScoreJudge = (_prompt, completions, r) => completions.map((c) => c.length + Number(r.prompt === 'p'));
    expect(await scores(judgeSource(config(), judge), ['ab', 'abcd'])).toEqual([3, 5]);
  });

  it('names the row when a judge returns the wrong number of scores', async () => {
    const source = judgeSource(config(), () => [1]);
    await expect(scores(source, ['a', 'b'])).rejects.toThrow(
      /prompts\.jsonl row 3: must return 2 finite numbers .*got \[1\]/,
    );
    await expect(
      scores(
        judgeSource(config(), () => [1, Number.NaN]),
        ['a', 'b'],
      ),
    ).rejects.toThrow(/finite numbers/);
  });

  it('needs exactly one judge', () => {
    expect(() => judgeSource(config(), undefined)).toThrow(/online_dpo needs a judge/);
    expect(() => judgeSource(config({ judge_regex: 'x', reward_model_path: 'rm' }), undefined)).toThrow(
      /one judge, got judge_regex and reward_model_path/,
    );
    expect(() => judgeSource(config({ judge_length_target: 3 }), () => [])).toThrow(
      /passed to train\(\) and judge_length_target/,
    );
  });

  it('names judge_regex when it is not a regular expression', () => {
    expect(() => judgeSource(config({ judge_regex: '([a-z' }), undefined)).toThrow(
      /'judge_regex' must be a valid regular expression, got "\(\[a-z"/,
    );
  });

  it('checks the online keys like every config key', () => {
    expect(() => config({ num_generations: 1 })).toThrow(/'num_generations' must be at least 2, got number 1/);
    expect(() => config({ ref_model_update: 'ema' })).toThrow(/'ref_model_update' must be one of fixed, last_round/);
    expect(() => config({ iteration: 2 })).toThrow(/did you mean 'iterations'/);
    expect(config()).toMatchObject({
      iterations: 1,
      num_generations: 2,
      max_new_tokens: 64,
      temperature: 0.9,
      top_k: 0,
      learning_rate: 5e-7,
    });
  });
});
