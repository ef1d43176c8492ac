// The states of libtorch's default random generators (CPU, and each CUDA device), what the HF Trainer saves as
// rng_state[_<rank>].pth so that a resumed run draws the same dropout masks as an uninterrupted one.
#pragma once

#include <string>

namespace alignkit::runtime {

// Writes every default generator's state to a safetensors file: `cpu`, `cuda:<i>` (uint8 each).
void saveRngState(const std::string& path);

// Restores a saveRngState file (generators of devices this machine lacks are skipped); a malformed state is an
// error naming the file.
void loadRngState(const std::string& path);

}  // namespace alignkit::runtime
