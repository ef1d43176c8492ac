// The CUDA caching allocator's counters (what torch.cuda.max_memory_allocated reads), so benchmarks compare
// GPU memory with PyTorch like for like.
#pragma once

#include <cstdint>

namespace alignkit::runtime {

struct CudaMemory {
  int64_t allocated = 0, peakAllocated = 0;  // bytes in live tensors, now and at the peak
  int64_t reserved = 0, peakReserved = 0;    // bytes the allocator holds from the driver
};

// Device `device`'s counters; throws when the addon has no CUDA or the device does not exist.
CudaMemory cudaMemory(int device);
// Starts the peaks afresh from the current values (torch.cuda.reset_peak_memory_stats).
void resetCudaPeakMemory(int device);

}  // namespace alignkit::runtime
