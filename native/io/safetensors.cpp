#include "io/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/json_error.h"
#include "io/mapped_file.h"

namespace alignkit::io {
namespace {

using json = nlohmann::json;

// Python's safetensors refuses headers above 100 MB; so do we, before parsing anything.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeName {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeName kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
    {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},       {"BOOL", at::kBool},
};

std::string knownDtypeList() {
  std::string out;
  for (const auto& d : kDtypes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

std::string shapeString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string rangeString(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

uint64_t readU64LE(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Bytes a tensor of this shape and dtype occupies, or nullopt if the product overflows.
std::optional<uint64_t> byteSize(const std::vector<int64_t>& shape, at::ScalarType type) {
  uint64_t bytes = at::elementSize(type);
  for (int64_t dim : shape) {
    if (dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim)) return std::nullopt;
    bytes *= static_cast<uint64_t>(dim);
  }
  return bytes;
}

}  // namespace

std::string safetensorsDtypeName(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.name;
  throw invalidArgument(std::string("safetensors cannot store dtype ") + c10::toString(type));
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile out;
  out.path_ = path;
  out.file_ = MappedFile::open(path);
  const size_t size = out.file_->size();
  const unsigned char* bytes = out.file_->data();

  if (size < 8)
    throw invalidFile(
        path, "file is " + std::to_string(size) + " bytes; a safetensors file starts with an 8-byte header length");
  const uint64_t headerLen = readU64LE(bytes);
  // Above the limit the length is not printed: the 8 bytes of a text file read as such a number would spell its start.
  if (headerLen > kMaxHeaderBytes)
    throw invalidFile(path, "the first 8 bytes give a header length above the 100 MB limit (not a safetensors file?)");
  if (headerLen > size - 8)
    throw invalidFile(path, "header length " + std::to_string(headerLen) + " is larger than the file (" +
                                std::to_string(size) + " bytes)");

  json header;
  try {
    header = json::parse(bytes + 8, bytes + 8 + headerLen);
  } catch (const json::parse_error& e) {
    throw invalidFile(path, "header is " + notValidJson(e.byte));
  }
  if (!header.is_object()) throw invalidFile(path, "header is not a JSON object");

  const uint64_t dataStart = 8 + headerLen;
  const uint64_t dataSize = size - dataStart;
  struct Span {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Span> spans;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& info = it.value();
    if (name == "__metadata__") {
      if (!info.is_object()) throw invalidFile(path, "__metadata__ is not an object of strings");
      for (auto m = info.begin(); m != info.end(); ++m) {
        if (!m.value().is_string()) throw invalidFile(path, "__metadata__." + m.key() + " is not a string");
        out.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!info.is_object()) throw invalidFile(path, where + "entry is not an object");

    const json* dtype = info.contains("dtype") ? &info["dtype"] : nullptr;
    if (dtype == nullptr || !dtype->is_string()) throw invalidFile(path, where + "missing string field 'dtype'");
    const auto known =
        std::find_if(std::begin(kDtypes), std::end(kDtypes), [&](const DtypeName& d) { return *dtype == d.name; });
    if (known == std::end(kDtypes))
      throw invalidFile(
          path, where + "unknown dtype '" + dtype->get<std::string>() + "' (expected one of " + knownDtypeList() + ")");

    const json* shape = info.contains("shape") ? &info["shape"] : nullptr;
    if (shape == nullptr || !shape->is_array()) throw invalidFile(path, where + "missing array field 'shape'");
    std::vector<int64_t> dims;
    for (const json& d : *shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        throw invalidFile(path, where + "shape entries must be non-negative integers, got " + shape->dump());
      dims.push_back(d.get<int64_t>());
    }

    const json* offsets = info.contains("data_offsets") ? &info["data_offsets"] : nullptr;
    if (offsets == nullptr || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
      throw invalidFile(path, where + "data_offsets must be two non-negative integers [begin, end]");
    const uint64_t begin = (*offsets)[0].get<uint64_t>();
    const uint64_t end = (*offsets)[1].get<uint64_t>();
    if (end < begin)
      throw invalidFile(path, where + "data_offsets " + rangeString(begin, end) + " end before they begin");
    if (end > dataSize)
      throw invalidFile(path, where + "data_offsets " + rangeString(begin, end) + " run past the end of the " +
                                  std::to_string(dataSize) + "-byte data buffer (file truncated or offsets wrong)");
    const auto needed = byteSize(dims, known->type);
    if (!needed || *needed != end - begin)
      throw invalidFile(path, where + "shape " + shapeString(dims) + " of dtype " + known->name + " needs " +
                                  (needed ? std::to_string(*needed) : std::string("an overflowing number of")) +
                                  " bytes but data_offsets " + rangeString(begin, end) + " span " +
                                  std::to_string(end - begin));

    auto [entry, inserted] = out.entries_.emplace(name, Entry{known->type, std::move(dims), dataStart + begin});
    spans.push_back({begin, end, &entry->first});
  }

  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i) {
    const Span& prev = spans[i - 1];
    const Span& cur = spans[i];
    if (cur.begin < prev.end && cur.begin != cur.end)
      throw invalidFile(path, "tensors '" + *prev.name + "' " + rangeString(prev.begin, prev.end) + " and '" +
                                  *cur.name + "' " + rangeString(cur.begin, cur.end) + " overlap");
  }
  // As Python's safetensors (validate): the tensors tile the data buffer, no byte before, between or after them.
  uint64_t covered = 0;
  for (const Span& s : spans) {
    if (s.begin > covered)
      throw invalidFile(path, "data buffer bytes " + rangeString(covered, s.begin) + " before tensor '" + *s.name +
                                  "' belong to no tensor (the tensors must fill the buffer without holes)");
    covered = std::max(covered, s.end);
  }
  if (covered != dataSize)
    throw invalidFile(path, std::to_string(dataSize - covered) + " trailing byte(s) after the last tensor's data " +
                                "(the data buffer is " + std::to_string(dataSize) + " bytes, its tensors end at " +
                                std::to_string(covered) + ")");
  for (const Span& s : spans) out.names_.push_back(*s.name);
  return out;
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw invalidFile(path_, "no tensor named '" + name + "'");
  const Entry& e = it->second;
  std::shared_ptr<MappedFile> keepAlive = file_;
  void* data = const_cast<unsigned char*>(file_->data() + e.begin);
  return at::from_blob(
      data, e.shape, [keepAlive](void*) mutable { keepAlive.reset(); }, at::TensorOptions().dtype(e.dtype));
}

void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> cpu;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = c.nbytes();
    header[name] = {{"dtype", safetensorsDtypeName(c.scalar_type())},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    cpu.push_back(std::move(c));
  }
  std::string text = header.dump();
  text.append((8 - (text.size() % 8)) % 8, ' ');  // keep the data buffer 8-byte aligned, as Python's writer does

  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw Error("ERR_IO", tmp + ": cannot open for writing (" + std::strerror(errno) + ")");
  unsigned char lenBytes[8];
  for (int i = 0; i < 8; ++i) lenBytes[i] = static_cast<unsigned char>((text.size() >> (8 * i)) & 0xff);
  bool ok = std::fwrite(lenBytes, 1, 8, f) == 8 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const at::Tensor& c : cpu) ok = ok && std::fwrite(c.data_ptr(), 1, c.nbytes(), f) == c.nbytes();
  ok = std::fflush(f) == 0 && ok && ::fsync(fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    throw Error("ERR_IO", path + ": write failed (" + std::strerror(errno) + ")");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace alignkit::io
