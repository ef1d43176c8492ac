#include "runtime/randperm.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <string>

#include "common/error.h"

namespace alignkit::runtime {

std::vector<int32_t> torchRandperm(int64_t n, uint64_t seed) {
  if (n < 0 || n > INT32_MAX) throw invalidArgument("randperm: n must be in [0, 2^31), got " + std::to_string(n));
  const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor order = at::randperm(n, generator, at::TensorOptions().dtype(at::kInt));
  const int32_t* p = order.const_data_ptr<int32_t>();
  return std::vector<int32_t>(p, p + n);
}

}  // namespace alignkit::runtime
