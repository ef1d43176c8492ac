#include "runtime/rng_state.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <algorithm>
#include <mutex>

#include "common/error.h"
#include "io/safetensors.h"

namespace alignkit::runtime {
namespace {

std::vector<std::pair<std::string, at::Device>> generatorDevices() {
  std::vector<std::pair<std::string, at::Device>> devices{{"cpu", at::Device(at::kCPU)}};
  if (at::globalContext().hasCUDA()) {
    const int count = at::detail::getCUDAHooks().deviceCount();
    for (int i = 0; i < count; ++i) devices.emplace_back("cuda:" + std::to_string(i), at::Device(at::kCUDA, i));
  }
  return devices;
}

}  // namespace

void saveRngState(const std::string& path) {
  std::vector<std::pair<std::string, at::Tensor>> states;
  for (const auto& [name, device] : generatorDevices()) {
    at::Generator generator = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    states.emplace_back(name, generator.get_state());
  }
  io::writeSafetensors(path, states, {{"format", "alignkit-rng"}});
}

void loadRngState(const std::string& path) {
  const io::SafetensorsFile file = io::SafetensorsFile::open(path);
  const auto devices = generatorDevices();
  for (const std::string& name : file.names()) {
    auto it = std::find_if(devices.begin(), devices.end(), [&](const auto& d) { return d.first == name; });
    if (it == devices.end()) continue;  // a GPU this machine lacks (as the Trainer, resuming elsewhere goes on)
    at::Generator generator = at::globalContext().defaultGenerator(it->second);
    std::lock_guard<std::mutex> lock(generator.mutex());
    try {
      generator.set_state(file.tensor(name).clone());
    } catch (const c10::Error& e) {
      throw invalidFile(path, "generator '" + name + "': " + e.what_without_backtrace());
    }
  }
}

}  // namespace alignkit::runtime
