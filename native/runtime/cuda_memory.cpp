#include "runtime/cuda_memory.h"

#include <ATen/ATen.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <string>

#include "common/error.h"

#if ALIGNKIT_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace alignkit::runtime {
namespace {

void checkDevice(int device) {
  if (!ALIGNKIT_WITH_CUDA) throw invalidArgument("cudaMemory: this addon was built without CUDA");
  if (!at::hasCUDA() || device < 0 || device >= static_cast<int>(at::detail::getCUDAHooks().deviceCount()))
    throw invalidArgument("cudaMemory: no CUDA device " + std::to_string(device));
}

}  // namespace

#if ALIGNKIT_WITH_CUDA
CudaMemory cudaMemory(int device) {
  checkDevice(device);
  at::globalContext().lazyInitDevice(at::kCUDA);  // the allocator exists only once CUDA is initialised
  using c10::CachingAllocator::StatType;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  const auto& allocated = stats.allocated_bytes[static_cast<size_t>(StatType::AGGREGATE)];
  const auto& reserved = stats.reserved_bytes[static_cast<size_t>(StatType::AGGREGATE)];
  return {allocated.current, allocated.peak, reserved.current, reserved.peak};
}

void resetCudaPeakMemory(int device) {
  checkDevice(device);
  at::globalContext().lazyInitDevice(at::kCUDA);
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
}
#else
CudaMemory cudaMemory(int device) {
  checkDevice(device);
  return {};
}

void resetCudaPeakMemory(int device) { checkDevice(device); }
#endif

}  // namespace alignkit::runtime
