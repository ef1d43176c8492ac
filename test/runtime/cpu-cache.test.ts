// The caching CPU allocator (native/runtime/cpu_caching_allocator.h) is libtorch's CPU allocator once the addon
// loads: a block of 128 KiB-64 MiB freed by one call is handed to the next call that needs that size, instead of a
// fresh mmap (page faults) each time; a call's values do not depend on where its memory came from.
import { describe, expect, it } from 'vitest';
import { cpuCache } from '../../src/info.js';
import { loadModel } from '../../src/model.js';
import { modelDir } from '../helpers/fixtures.js';

describe('caching CPU allocator', () => {
  it('serves repeated large allocations from its cache, with the same results', async () => {
    const model = await loadModel(modelDir('llama'));
    // (64, 32, 256) float32 logits: 2 MiB, within the cached range (128 KiB-64 MiB).
    const ids = Array.from({ length: 64 }, (_, r) => Array.from({ length: 32 }, (_, t) => 3 + ((r * 31 + t * 7) % 250)));
    const first = await model.logits(ids);
    const before = cpuCache();
    const second = await model.logits(ids);
    const after = cpuCache();
    expect(after.hits).toBeGreaterThan(before.hits);
    expect(second.data).toEqual(first.data);
    expect(after.idleBytes).toBeLessThanOrEqual(1024 * 2 ** 20); // ALIGNKIT_CPU_CACHE_MB's default cap
  });
});
