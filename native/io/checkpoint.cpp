#include "io/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/json_error.h"
#include "io/safetensors.h"

namespace alignkit::io {
namespace fs = std::filesystem;
namespace {

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";
const std::map<std::string, std::string> kMetadata = {{"format", "pt"}};  // transformers refuses files without it

nlohmann::json readIndex(const fs::path& indexPath) {
  std::ifstream in(indexPath);
  if (!in) throw invalidModel(indexPath.string(), "cannot be read");
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw invalidModel(indexPath.string(), notValidJson(e.byte));
  }
  if (!index.contains("weight_map") || !index["weight_map"].is_object())
    throw invalidModel(indexPath.string(), "missing object field 'weight_map'");
  return index;
}

void addAll(const SafetensorsFile& file, std::map<std::string, at::Tensor>& out) {
  for (const std::string& name : file.names()) out[name] = file.tensor(name);
}

}  // namespace

std::map<std::string, at::Tensor> readCheckpointTensors(const std::string& dir) {
  const fs::path root(dir);
  std::map<std::string, at::Tensor> out;
  if (fs::exists(root / kSingleFile)) {
    addAll(SafetensorsFile::open((root / kSingleFile).string()), out);
    return out;
  }
  const fs::path indexPath = root / kIndexFile;
  if (!fs::exists(indexPath))
    throw invalidModel(
        dir, std::string("no ") + kSingleFile + " or " + kIndexFile + " (only safetensors checkpoints are supported)");

  const nlohmann::json weightMap = readIndex(indexPath)["weight_map"];
  std::map<std::string, std::vector<std::string>> namesByShard;
  for (auto it = weightMap.begin(); it != weightMap.end(); ++it) {
    if (!it.value().is_string())
      throw invalidModel(indexPath.string(), "weight_map['" + it.key() + "'] is not a file name");
    const std::string shard = it.value().get<std::string>();
    if (fs::path(shard).filename() != fs::path(shard))
      throw invalidModel(indexPath.string(),
                         "weight_map['" + it.key() + "'] = '" + shard + "' is not a plain file name");
    namesByShard[shard].push_back(it.key());
  }
  for (const auto& [shard, names] : namesByShard) {
    const SafetensorsFile file = SafetensorsFile::open((root / shard).string());
    for (const std::string& name : names) {
      if (!file.contains(name))
        throw invalidModel(file.path(), "lacks tensor '" + name + "' that " + kIndexFile + " places in it");
      out[name] = file.tensor(name);
    }
  }
  return out;
}

void writeCheckpointTensors(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                            uint64_t maxShardBytes) {
  const fs::path root(dir);
  fs::create_directories(root);

  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  uint64_t shardBytes = 0, totalBytes = 0;
  for (const auto& entry : tensors) {
    const uint64_t bytes = entry.second.nbytes();
    if (shardBytes > 0 && shardBytes + bytes > maxShardBytes) {
      shards.emplace_back();
      shardBytes = 0;
    }
    shards.back().push_back(entry);
    shardBytes += bytes;
    totalBytes += bytes;
  }

  std::vector<std::string> written;
  if (shards.size() == 1) {
    writeSafetensors((root / kSingleFile).string(), shards[0], kMetadata);
    written.push_back(kSingleFile);
  } else {
    nlohmann::ordered_json weightMap;
    for (size_t i = 0; i < shards.size(); ++i) {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      writeSafetensors((root / name).string(), shards[i], kMetadata);
      for (const auto& entry : shards[i]) weightMap[entry.first] = name;
      written.push_back(name);
    }
    nlohmann::ordered_json index = {{"metadata", {{"total_size", totalBytes}}}, {"weight_map", weightMap}};
    writeFileDurably((root / kIndexFile).string(), index.dump(2) + "\n");
    written.push_back(kIndexFile);
  }

  // Only now remove weight files of an earlier save, so the folder holds exactly one layout.
  for (const auto& file : fs::directory_iterator(root)) {
    const std::string name = file.path().filename().string();
    const bool weights =
        name == kIndexFile || (name.rfind("model", 0) == 0 && file.path().extension() == ".safetensors");
    if (weights && std::find(written.begin(), written.end(), name) == written.end()) fs::remove(file.path());
  }
}

void writeFileDurably(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const auto fail = [&](const char* what) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Error("ERR_IO", path + ": " + what + " failed (" + std::strerror(err) + ")");
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("ERR_IO", path + ": cannot be created (" + std::strerror(errno) + ")");
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    throw fail("fsync");
  }
  if (::close(fd) != 0) throw fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw fail("rename");
}

}  // namespace alignkit::io
