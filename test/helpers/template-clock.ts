// Chat templates that print the day (strftime_now) render at the time the references were made
// (test/fixtures/tokenizers/reference.json `fixed_now`, set by scripts/fixtures/make_tokenizers.py; the TRL
// generators that render such templates use it too). Only Date is faked: timers run as usual.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, vi } from 'vitest';
import { fixturesDir } from './fixtures.js';

/** The references' local time: year, month (1-12), day, hour, minute, second. */
export function fixedNow(): Date {
  const reference = JSON.parse(readFileSync(join(fixturesDir, 'tokenizers', 'reference.json'), 'utf8')) as {
    fixed_now: [number, number, number, number, number, number];
  };
  const [y, mo, d, h, mi, s] = reference.fixed_now;
  return new Date(y, mo - 1, d, h, mi, s);
}

/** Fakes Date at fixedNow() for the calling test file. */
export function useTemplateClock(): void {
  beforeAll(() => {
    vi.useFakeTimers({ now: fixedNow(), toFake: ['Date'] });
  });
  afterAll(() => {
    vi.useRealTimers();
  });
}
