// The caching CPU allocator (native/runtime/cpu_caching_allocator.h) is libtorch's CPU allocator once the addon
// loads: a block of 128 KiB-64 MiB freed by one call is handed to the next call that needs that size, instead of a
// fresh mmap (page faults) each time; a call's values do not depend on where its memory came from. The blocks it
// holds, live and idle, never exceed the most ever live at once.
import { describe, expect, it } from 'vitest';
import { cpuCache } from '../../src/info.js';
import { loadModel } from '../../src/model.js';
import { modelDir } from '../helpers/fixtures.js';

// rows × 32 token ids; (rows, 32, 256) float32 logits are rows × 32 KiB, within the cached range.
const tokenRows = (rows: number) =>
  Array.from({ length: rows }, (_, r) => Array.from({ length: 32 }, (_, t) => 3 + ((r * 31 + t * 7) % 250)));

describe('caching CPU allocator', () => {
  it('serves repeated large allocations from its cache, with the same results', async () => {
    const model = await loadModel(modelDir('llama'));
    const ids = tokenRows(64);
    const first = await model.logits(ids);
    const before = cpuCache();
    const second = await model.logits(ids);
    const after = cpuCache();
    expect(after.hits).toBeGreaterThan(before.hits);
    expect(second.data).toEqual(first.data);
    expect(after.idleBytes).toBeLessThanOrEqual(1024 * 2 ** 20); // ALIGNKIT_CPU_CACHE_MB's default cap
  });

  it('returns idle blocks to the system rather than hold more than the live peak', async () => {
    const model = await loadModel(modelDir('llama'));
    // Shapes that grow, then shrink: each pass's blocks sit idle in size classes the next cannot use.
    for (const rows of [16, 24, 40, 56, 72, 48, 8]) {
      await model.logits(tokenRows(rows));
      const s = cpuCache();
      expect(s.liveBytes + s.idleBytes).toBeLessThanOrEqual(s.peakLiveBytes);
    }
    expect(cpuCache().evictions).toBeGreaterThan(0);
  });
});
