// The demo's rule judge: an answer follows its prompt when it names the thing and every letter is in the asked case.
import { describe, expect, it } from 'vitest';
import { caseJudge, followsInstruction } from '../../src/demo/case-judge.js';

const upper = { case: 'upper', thing: 'owl' };
const lower = { case: 'lower', thing: 'owl' };

describe('demo rule judge', () => {
  it.each([
    ['THE OWL IS WISE AND QUIET.', upper, true],
    ['the owl is wise and quiet.', upper, false],
    ['the owl is wise and quiet.', lower, true],
    ['THE OWL is wise.', lower, false],
    ['THE CAT IS SOFT.', upper, false], // names another thing
    ['...', upper, false], // no letters at all
  ])('%s follows %j: %s', (answer, row, want) => {
    expect(followsInstruction(answer, row)).toBe(want);
  });

  it('scores the model’s answer against the reference’s: win, loss, tie', async () => {
    expect(await caseJudge([], 'THE OWL.', 'the owl.', upper)).toBe(1);
    expect(await caseJudge([], 'the owl.', 'THE OWL.', upper)).toBe(0);
    expect(await caseJudge([], 'THE OWL.', 'THE OWL IS WISE.', upper)).toBe(0.5);
    expect(await caseJudge([], 'the owl.', 'the dog.', upper)).toBe(0.5);
  });
});
