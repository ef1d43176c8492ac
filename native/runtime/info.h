// What libtorch this addon runs on, for `alignkit info` and bug reports.
#pragma once

#include <string>

namespace alignkit::runtime {

struct RuntimeInfo {
  std::string torchVersion;
  bool builtWithCuda = false;  // compiled against a CUDA libtorch
  bool cudaAvailable = false;  // and a device is usable now
  int cudaDeviceCount = 0;
  int threads = 0;  // intra-op threads ATen uses
};

RuntimeInfo runtimeInfo();
void setNumThreads(int threads);

}  // namespace alignkit::runtime
