// The demo's rule: an answer follows its prompt when it names the thing asked about and every letter is in the
// case the prompt asked for (the rows of prompts.jsonl carry both: `thing`, `case`). Checkable by anyone, so the
// demo's win rate needs no model to judge it.
import type { Judge } from '../eval/generation-eval.js';

export function followsInstruction(answer: string, row: Record<string, unknown>): boolean {
  const letters = answer.replace(/[^A-Za-z]/g, '');
  const inCase = row.case === 'upper' ? letters === letters.toUpperCase() : letters === letters.toLowerCase();
  return letters.length > 0 && inCase && answer.toLowerCase().includes(String(row.thing).toLowerCase());
}

/** 1 when only the model's answer follows the instruction, 0 when only the reference's does, else a tie. */
export const caseJudge: Judge = (_prompt, a, b, row) => {
  const [ours, theirs] = [followsInstruction(a, row), followsInstruction(b, row)];
  return ours === theirs ? 0.5 : ours ? 1 : 0;
};

/** The demo's eval.yaml names this module as its `judge`. */
export default caseJudge;
