// Hugging Face checkpoint folders: `model.safetensors`, or shards listed in `model.safetensors.index.json`.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace alignkit::io {

// Every tensor of the checkpoint in `dir`, viewing the mapped files (no copy). Checks that the index and the
// shards agree: a tensor the index names but its shard lacks is an error naming both.
std::map<std::string, at::Tensor> readCheckpointTensors(const std::string& dir);

// Writes `tensors` into `dir` as `model.safetensors`, or as shards of at most `maxShardBytes` with an index,
// the layout `save_pretrained` produces. Stale weight files from an earlier save are removed.
void writeCheckpointTensors(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                            uint64_t maxShardBytes);

// Writes `bytes` to `path` through `path.tmp-<pid>`, fsync'ed and renamed into place: a full disk or a missing
// permission is an ERR_IO naming `path`, never a silently short file.
void writeFileDurably(const std::string& path, const std::string& bytes);

}  // namespace alignkit::io
