// A chat template is a program from the model folder, run once per dataset row on the JS thread: one that never
// ends (`{% for i in range(100000) %}{% for j in range(100000) %}`) would hang the run past Ctrl-C, and one that
// builds a huge list (`range(1000000000)`) would abort V8. Each render gets a budget of interpreter steps, counted in
// @huggingface/jinja's Interpreter.evaluate, and a `range` global that refuses more numbers than a template could
// use; going over either is an error ("chat template exceeded ..."), which the caller reports with the row. The
// library has no hook for either, so both wrap its prototypes (Interpreter.evaluate, Environment.set), and act only
// inside withTemplateBudget.
import { Environment, Interpreter } from '@huggingface/jinja';
import { strftimeNow } from './strftime.js';

/**
 * Interpreter steps per render (each number a range() makes counts as one): ample for real conversations (tens of
 * steps per message), and a runaway template stops within seconds.
 */
export const TEMPLATE_STEPS = 1_000_000;
/** The most numbers one range() call may make. */
export const TEMPLATE_RANGE = 1_000_000;

let budget: number | null = null;

/** A render that went over its budget: the message says which ("exceeded ..."). */
export class TemplateBudgetError extends Error {}

function spend(count = 1): void {
  if (budget !== null && (budget -= count) < 0) {
    throw new TemplateBudgetError(
      `exceeded ${TEMPLATE_STEPS.toLocaleString('en-US')} evaluation steps in one render (a loop that does not end?)`,
    );
  }
}

// Installed once: while no render is budgeted (budget null) both run as they always did. Every expression and
// statement is an evaluate; every loop iteration an evaluateBlock, even with an empty body.
const evaluate = Interpreter.prototype.evaluate;
Interpreter.prototype.evaluate = function budgeted(this: Interpreter, ...args: Parameters<typeof evaluate>) {
  spend();
  return evaluate.apply(this, args);
};
const evaluateBlock = Interpreter.prototype.evaluateBlock;
Interpreter.prototype.evaluateBlock = function budgetedBlock(
  this: Interpreter,
  ...args: Parameters<typeof evaluateBlock>
) {
  spend();
  return evaluateBlock.apply(this, args);
};

// The render's globals are set through Environment.set: its `range` is replaced by boundedRange, and (the one
// hook there is, so it lives here too) its `strftime_now` by Python's C-locale one (strftime.ts).
const set = Environment.prototype.set;
Environment.prototype.set = function boundedGlobals(this: Environment, name: string, value: unknown) {
  if (budget === null) return set.call(this, name, value);
  return set.call(this, name, name === 'range' ? boundedRange : name === 'strftime_now' ? strftimeNow : value);
};

/** Jinja's range(), refusing to make more than TEMPLATE_RANGE numbers. */
export function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > TEMPLATE_RANGE) {
    throw new TemplateBudgetError(
      `exceeded the ${TEMPLATE_RANGE.toLocaleString('en-US')} numbers one range() may make (it asked for ${count.toLocaleString('en-US')})`,
    );
  }
  spend(count);
  return Array.from({ length: count }, (_, i) => start + i * step);
}

/** Runs one render under a fresh step budget. */
export function withTemplateBudget<T>(render: () => T): T {
  const outer = budget;
  budget = TEMPLATE_STEPS;
  try {
    return render();
  } finally {
    budget = outer;
  }
}
