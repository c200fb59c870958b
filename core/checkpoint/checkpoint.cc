#include "core/checkpoint/checkpoint.h"

#include <ATen/ATen.h>
#include <glog/logging.h>

#include <fstream>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/checkpoint/c2_names.h"
#include "core/checkpoint/pickle_text.h"
#include "core/checkpoint/pickle_vm.h"
#include "core/checkpoint/pth_reader.h"
#include "core/checkpoint/tensor_builder.h"
#include "core/util/status_macros.h"

namespace d2x::checkpoint {
namespace {

using pickle::Kind;
using pickle::Object;

// Python truthiness of a pickled value (for "matching_heuristics").
bool Truthy(const Object* obj) {
  if (obj == nullptr) return false;
  switch (obj->kind) {
    case Kind::kNone: return false;
    case Kind::kBool: return obj->b;
    case Kind::kInt: return obj->i != 0;
    case Kind::kFloat: return obj->f != 0;
    case Kind::kStr:
    case Kind::kBytes: return !obj->data.empty();
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kSet:
    case Kind::kFrozenSet:
    case Kind::kDict: return !obj->items.empty();
    default: return true;
  }
}

std::string KeyText(const Object& key) {
  return key.is(Kind::kStr) ? pickle::TextOf(key) : pickle::Describe(key);
}

// Splits "file?matching_heuristics=True" (detectron2 parses the URL query of the path). A path
// that exists as given is never split.
absl::Status SplitQuery(const std::string& input, std::string* path, bool* heuristics,
                        std::vector<std::string>* other_keys) {
  *path = input;
  *heuristics = false;
  const size_t q = input.rfind('?');
  if (q == std::string::npos || std::ifstream(input).good()) return absl::OkStatus();
  *path = input.substr(0, q);
  for (absl::string_view part : absl::StrSplit(input.substr(q + 1), '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == "matching_heuristics") {
      *heuristics = kv.second == "True";
    } else {
      other_keys->push_back(kv.first);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes = SIZE_MAX) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open checkpoint file"));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) return absl::DataLossError(absl::StrCat(path, ": cannot determine file size"));
  in.seekg(0);
  const size_t n = std::min<size_t>(static_cast<size_t>(size), max_bytes);
  std::string data(n, '\0');
  if (n > 0 && !in.read(data.data(), static_cast<std::streamsize>(n))) {
    return absl::DataLossError(absl::StrCat(path, ": read error"));
  }
  return data;
}

std::string HexHead(const std::string& head) {
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(head.size(), 8); ++i) {
    absl::StrAppend(&out, absl::StrFormat("%02x", static_cast<unsigned char>(head[i])));
  }
  return out.empty() ? "(empty file)" : out;
}

// A plausible first byte of a pickle: PROTO, or a protocol 0/1 opcode that can start one.
bool LooksLikePickle(const std::string& head) {
  if (head.empty()) return false;
  const unsigned char c = static_cast<unsigned char>(head[0]);
  return c == 0x80 || c == '(' || c == '}' || c == ']' || c == 'c' || c == 'd' || c == 'l';
}

// The module versions in a pickled state_dict's `_metadata` (an OrderedDict attribute).
std::optional<std::map<std::string, int64_t>> ModuleVersions(const Object& model) {
  if (model.state == nullptr) return std::nullopt;
  const Object* metadata = pickle::DictGet(*model.state, "_metadata");
  if (metadata == nullptr || !metadata->is(Kind::kDict)) return std::nullopt;
  std::map<std::string, int64_t> versions;
  for (size_t i = 0; i < metadata->dict_size(); ++i) {
    const Object* entry = metadata->dict_value(i);
    const Object* version = pickle::DictGet(*entry, "version");
    if (metadata->dict_key(i)->is(Kind::kStr) && version != nullptr && version->is(Kind::kInt)) {
      versions[pickle::TextOf(*metadata->dict_key(i))] = version->i;
    }
  }
  return versions;
}

// fvcore's _strip_prefix_if_present(state_dict, "module.").
void StripModulePrefix(Checkpoint& ckpt) {
  constexpr absl::string_view kPrefix = "module.";
  for (const auto& [name, tensor] : ckpt.tensors) {
    if (!name.empty() && !absl::StartsWith(name, kPrefix)) return;
  }
  if (ckpt.tensors.empty()) return;
  for (auto& [name, tensor] : ckpt.tensors) {
    if (!name.empty()) name = name.substr(kPrefix.size());
  }
  if (ckpt.module_versions.has_value()) {
    std::map<std::string, int64_t> stripped;
    for (const auto& [module, version] : *ckpt.module_versions) {
      // "" (DDP wrapper) stays; "module" becomes the root ""; "module.x" becomes "x".
      stripped[module.empty() ? module : module.substr(std::min(module.size(), kPrefix.size()))] =
          version;
    }
    ckpt.module_versions = std::move(stripped);
  }
}

// Builds ckpt.tensors from the `model` dict (fvcore: every value must be a tensor or array).
absl::Status CollectTensors(const Object& model, TensorBuilder& builder, Checkpoint& ckpt,
                            bool drop_momentum, bool drop_num_batches_tracked) {
  if (!model.is(Kind::kDict)) {
    return absl::InvalidArgumentError(absl::StrCat(ckpt.path, ": the model weights are ",
                                                   pickle::Describe(model),
                                                   ", expected a dict of tensors"));
  }
  ckpt.tensors.reserve(model.dict_size());
  for (size_t i = 0; i < model.dict_size(); ++i) {
    const Object& key = *model.dict_key(i);
    if (!key.is(Kind::kStr)) {
      return absl::InvalidArgumentError(absl::StrCat(
          ckpt.path, ": model weight key ", pickle::Describe(key), " is not a string"));
    }
    std::string name = pickle::TextOf(key);
    if (drop_momentum && absl::EndsWith(name, "_momentum")) continue;
    if (drop_num_batches_tracked && absl::EndsWith(name, "num_batches_tracked")) continue;
    D2X_ASSIGN_OR_RETURN(at::Tensor tensor, builder.Build(*model.dict_value(i), name));
    ckpt.tensors.emplace_back(std::move(name), std::move(tensor));
  }
  return absl::OkStatus();
}

void CollectMetadata(const Object& root, const Object* model, Checkpoint& ckpt) {
  for (size_t i = 0; i < root.dict_size(); ++i) {
    if (root.dict_value(i) == model) continue;
    ckpt.metadata[KeyText(*root.dict_key(i))] = pickle::Describe(*root.dict_value(i));
  }
}

// Interprets the unpickled top-level object with DetectionCheckpointer's rules.
absl::Status Assemble(const Object& root, bool is_zip, bool query_heuristics,
                      const std::vector<std::string>& query_other, TensorBuilder& builder,
                      Checkpoint& ckpt) {
  if (!root.is(Kind::kDict)) {
    return absl::InvalidArgumentError(absl::StrCat(
        ckpt.path, ": top-level object is ", pickle::Describe(root), ", expected a dict"));
  }
  const Object* model = nullptr;
  bool caffe2 = false;
  if (is_zip && absl::EndsWith(ckpt.path, ".pyth")) {
    ckpt.format = "pyth";
    model = pickle::DictGet(root, "model_state");
    if (model == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          ckpt.path, ": pycls checkpoints (.pyth) must contain 'model_state'"));
    }
    ckpt.matching_heuristics = true;
    ckpt.metadata["__author__"] = "pycls";
  } else if (is_zip) {
    ckpt.format = "pth";
    if (!query_other.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(ckpt.path, ": unsupported query key(s) ",
                                                     absl::StrJoin(query_other, ", ")));
    }
    model = pickle::DictGet(root, "model");
    if (model != nullptr) {
      ckpt.matching_heuristics = Truthy(pickle::DictGet(root, "matching_heuristics"));
      CollectMetadata(root, model, ckpt);
    } else {
      model = &root;
    }
    ckpt.matching_heuristics = ckpt.matching_heuristics || query_heuristics;
  } else if (pickle::DictGet(root, "model") != nullptr &&
             pickle::DictGet(root, "__author__") != nullptr) {
    ckpt.format = "pkl-detectron2";
    model = pickle::DictGet(root, "model");
    ckpt.matching_heuristics = Truthy(pickle::DictGet(root, "matching_heuristics"));
    CollectMetadata(root, model, ckpt);
    // align_and_update_state_dicts converts C2 names when the author is "Caffe2".
    caffe2 = ckpt.matching_heuristics && pickle::IsStr(*pickle::DictGet(root, "__author__"),
                                                       "Caffe2");
  } else {
    ckpt.format = "pkl-caffe2";
    model = pickle::DictGet(root, "blobs");  // detection models have "blobs", ImageNet ones not
    if (model == nullptr) model = &root;
    ckpt.matching_heuristics = true;
    ckpt.metadata["__author__"] = "Caffe2";
    caffe2 = true;
  }
  D2X_RETURN_IF_ERROR(CollectTensors(*model, builder, ckpt, /*drop_momentum=*/ckpt.format ==
                                                                "pkl-caffe2",
                                     /*drop_num_batches_tracked=*/ckpt.format == "pyth"));
  if (ckpt.format == "pth") ckpt.module_versions = ModuleVersions(*model);
  if (caffe2) {
    absl::StatusOr<std::vector<std::pair<std::string, at::Tensor>>> converted =
        ConvertC2DetectronWeights(std::move(ckpt.tensors));
    if (!converted.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ckpt.path, ": ", converted.status().message()));
    }
    ckpt.tensors = std::move(*converted);
  }
  StripModulePrefix(ckpt);
  return absl::OkStatus();
}

absl::StatusOr<Checkpoint> LoadCheckpointImpl(const std::string& input_path) {
  Checkpoint ckpt;
  bool query_heuristics = false;
  std::vector<std::string> query_other;
  D2X_RETURN_IF_ERROR(SplitQuery(input_path, &ckpt.path, &query_heuristics, &query_other));
  D2X_ASSIGN_OR_RETURN(std::string head, ReadFile(ckpt.path, 16));

  std::unique_ptr<PthArchive> archive;
  std::string file_bytes;  // plain pickles: the whole file (the object tree views it)
  absl::string_view pickle_bytes;
  pickle::UnpickleOptions options;
  if (LooksLikeZip(head)) {
    D2X_ASSIGN_OR_RETURN(archive, PthArchive::Open(ckpt.path));
    pickle_bytes = archive->pickle_bytes();
    options.source = absl::StrCat(ckpt.path, ":data.pkl");
    options.torch_persistent_ids = true;
  } else if (LooksLikeLegacyTorchSave(head)) {
    return absl::UnimplementedError(absl::StrCat(
        ckpt.path, ": legacy (non-zip) torch.save format not supported; re-save with "
                   "torch>=1.6 (torch.save(torch.load(f), f))"));
  } else if (LooksLikePickle(head)) {
    D2X_ASSIGN_OR_RETURN(file_bytes, ReadFile(ckpt.path));
    pickle_bytes = file_bytes;
    options.source = ckpt.path;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        ckpt.path, ": not a checkpoint: expected a torch.save zip archive or a pickle, file "
                   "starts with ",
        HexHead(head)));
  }

  D2X_ASSIGN_OR_RETURN(std::unique_ptr<pickle::Unpickled> tree,
                       pickle::Unpickle(pickle_bytes, options));
  ckpt.ignored_classes = tree->placeholders();
  if (!ckpt.ignored_classes.empty()) {
    LOG(INFO) << ckpt.path << ": not loading objects of classes outside the allow-list: "
              << absl::StrJoin(ckpt.ignored_classes, ", ");
  }
  TensorBuilder::RecordReader reader;
  if (archive != nullptr) {
    reader = [&archive](const std::string& key) { return archive->ReadStorage(key); };
  }
  // Numpy data is copied out of the pickle: never more than the pickle holds (+ slack).
  TensorBuilder builder(ckpt.path, reader, 2 * pickle_bytes.size() + (size_t{1} << 20),
                        archive != nullptr && archive->big_endian());
  D2X_RETURN_IF_ERROR(Assemble(tree->root(), archive != nullptr, query_heuristics, query_other,
                               builder, ckpt));
  return ckpt;
}

}  // namespace

absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& path) {
  absl::StatusOr<Checkpoint> ckpt = LoadCheckpointImpl(path);
  if (!ckpt.ok()) {  // names from the file may hold newlines: keep errors on one line
    return absl::Status(ckpt.status().code(), pickle::OneLine(ckpt.status().message()));
  }
  return ckpt;
}

}  // namespace d2x::checkpoint
