#include "runtime/cpu_caching_allocator.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace alignkit::runtime {
namespace {

constexpr size_t kMinCached = size_t{128} << 10;  // glibc maps blocks from 128 KiB on (tuneMalloc)
// Larger blocks (the fused lm_head's tiles) go back to the system when freed: their page faults are small next to
// the work done on them, and cached they would sit idle through the rest of the step, adding to peak RSS.
constexpr size_t kMaxCached = size_t{64} << 20;

// n rounded up to the next of 8 steps per power of two (2^k, 1.125 * 2^k, ...): at most 12.5% is wasted, and
// activations whose size moves a little between batches still share a class.
size_t sizeClass(size_t n) {
  size_t power = kMinCached;
  while (power * 2 <= n) power *= 2;
  const size_t step = power / 8;
  return (n + step - 1) / step * step;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t maxIdle) : maxIdle_(maxIdle) {}

  c10::DataPtr allocate(size_t n) override {
    if (n < kMinCached || n > kMaxCached) {
      void* p = n ? c10::alloc_cpu(n) : nullptr;
      return {p, p, &freeBlock, c10::Device(c10::DeviceType::CPU)};
    }
    const size_t bytes = sizeClass(n);
    void* p = nullptr;
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& idle = idle_[bytes];
      if (!idle.empty()) {
        p = idle.back();
        idle.pop_back();
        idleBytes_ -= bytes;
        ++hits_;
      } else {
        ++misses_;
        peakLive_ = std::max(peakLive_, live_ + bytes);
        while (live_ + idleBytes_ + bytes > peakLive_) evicted.push_back(evictLargest());
      }
      live_ += bytes;
    }
    for (void* e : evicted) c10::free_cpu(e);
    if (!p) p = c10::alloc_cpu(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      sizes_[p] = bytes;
    }
    return {p, p, &freeBlock, c10::Device(c10::DeviceType::CPU)};
  }

  // One deleter for every block (raw_deallocate uses it too): cached-size blocks go back to the cache.
  c10::DeleterFnPtr raw_deleter() const override { return &freeBlock; }

  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }

  CpuCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {idleBytes_, live_, peakLive_, hits_, misses_, evictions_};
  }

  static CachingCpuAllocator* instance;

 private:
  static void freeBlock(void* p) { instance->release(p); }

  void release(void* p) {
    if (p == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto it = sizes_.find(p);
      if (it != sizes_.end()) {
        const size_t bytes = it->second;
        sizes_.erase(it);
        live_ -= bytes;
        if (idleBytes_ + bytes <= maxIdle_) {
          idle_[bytes].push_back(p);
          idleBytes_ += bytes;
          return;
        }
      }
    }
    c10::free_cpu(p);  // a small block, or the cache is full
  }

  // Takes an idle block out of the cache (mutex_ held; some block is idle) and returns it, to be freed outside the
  // lock: the oldest of the largest class. Large blocks are the few (parameter-sized gradients and temporaries),
  // small ones the many a step reuses; one large block also makes the most room.
  void* evictLargest() {
    auto largest = std::find_if(idle_.rbegin(), idle_.rend(), [](const auto& entry) { return !entry.second.empty(); });
    void* p = largest->second.front();
    largest->second.pop_front();
    idleBytes_ -= largest->first;
    ++evictions_;
    return p;
  }

  const size_t maxIdle_;
  std::mutex mutex_;
  std::map<size_t, std::deque<void*>> idle_;  // size class -> idle blocks, oldest first
  std::unordered_map<void*, size_t> sizes_;   // live cached-size blocks -> their class
  size_t idleBytes_ = 0, live_ = 0, peakLive_ = 0, hits_ = 0, misses_ = 0, evictions_ = 0;
};

CachingCpuAllocator* CachingCpuAllocator::instance = nullptr;

}  // namespace

void installCpuCachingAllocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("ALIGNKIT_CPU_CACHE_MB");
    const long mb = env != nullptr ? std::atol(env) : 1024;
    if (mb <= 0) return;
    // Lives as long as the process: tensors may be freed during exit.
    CachingCpuAllocator::instance = new CachingCpuAllocator(static_cast<size_t>(mb) << 20);
    c10::SetCPUAllocator(CachingCpuAllocator::instance, /*priority=*/1);
  });
}

CpuCacheStats cpuCacheStats() {
  return CachingCpuAllocator::instance ? CachingCpuAllocator::instance->stats() : CpuCacheStats{};
}

}  // namespace alignkit::runtime
