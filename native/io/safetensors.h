// Safetensors files: a u64 little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the data buffer.
// Reading maps the file and checks every length, offset, dtype and shape against it before any tensor
// is touched, so a truncated or lying file is an error naming the file and tensor, never a bad read.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace alignkit::io {

class MappedFile;

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws alignkit::Error (ERR_INVALID_FILE) naming the file and tensor.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  // Tensor names in file order of their data.
  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // A CPU tensor viewing the mapped bytes (no copy); it keeps the mapping alive. Copy it before writing to it.
  at::Tensor tensor(const std::string& name) const;

 private:
  struct Entry {
    at::ScalarType dtype;
    std::vector<int64_t> shape;
    size_t begin;  // absolute byte offset in the file
  };

  std::string path_;
  std::shared_ptr<MappedFile> file_;
  std::vector<std::string> names_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (any device, contiguous or not) as one safetensors file that Python `safetensors` reads.
// The file appears atomically: it is written beside `path` and renamed into place.
void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata);

// The safetensors dtype string ("F32", "BF16", ...) of a scalar type; throws for types safetensors lacks.
std::string safetensorsDtypeName(at::ScalarType type);

}  // namespace alignkit::io
