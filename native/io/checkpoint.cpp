#include "io/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
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
    throw invalidModel(indexPath.string(), std::string("not valid JSON (") + e.what() + ")");
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
    throw invalidModel(dir, std::string("no ") + kSingleFile + " or " + kIndexFile +
                                " (only safetensors checkpoints are supported)");

  const nlohmann::json weightMap = readIndex(indexPath)["weight_map"];
  std::map<std::string, std::vector<std::string>> namesByShard;
  for (auto it = weightMap.begin(); it != weightMap.end(); ++it) {
    if (!it.value().is_string())
      throw invalidModel(indexPath.string(), "weight_map['" + it.key() + "'] is not a file name");
    const std::string shard = it.value().get<std::string>();
    if (fs::path(shard).filename() != fs::path(shard))
      throw invalidModel(indexPath.string(), "weight_map['" + it.key() + "'] = '" + shard + "' is not a plain file name");
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
    const fs::path tmp = root / (std::string(kIndexFile) + ".tmp");
    std::ofstream(tmp.string()) << index.dump(2) << "\n";
    fs::rename(tmp, root / kIndexFile);
    written.push_back(kIndexFile);
  }

  // Only now remove weight files of an earlier save, so the folder holds exactly one layout.
  for (const auto& file : fs::directory_iterator(root)) {
    const std::string name = file.path().filename().string();
    const bool weights = name == kIndexFile || (name.rfind("model", 0) == 0 && file.path().extension() == ".safetensors");
    if (weights && std::find(written.begin(), written.end(), name) == written.end()) fs::remove(file.path());
  }
}

}  // namespace alignkit::io
