// torch.randperm(n, generator=torch.Generator().manual_seed(seed)) on CPU, bit for bit: the row order the HF
// Trainer's seeded sampler draws each epoch, so shuffled training visits rows exactly as TRL does.
#pragma once

#include <cstdint>
#include <vector>

namespace alignkit::runtime {

std::vector<int32_t> torchRandperm(int64_t n, uint64_t seed);

}  // namespace alignkit::runtime
