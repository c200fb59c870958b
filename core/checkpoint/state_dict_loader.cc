#include "core/checkpoint/state_dict_loader.h"

#include <ATen/ATen.h>
#include <glog/logging.h>

#include <exception>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/checkpoint/pickle_text.h"

namespace d2x::checkpoint {
namespace {

using State = std::vector<std::pair<std::string, at::Tensor>>;

std::string Shape(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

// An insertion-ordered name -> tensor map with Python dict assignment semantics.
class OrderedState {
 public:
  void Set(const std::string& key, const at::Tensor& value) {
    auto [it, inserted] = index_.try_emplace(key, entries_.size());
    if (inserted) {
      entries_.emplace_back(key, value);
    } else {
      entries_[it->second].second = value;
    }
  }
  const at::Tensor* Find(const std::string& key) const {
    auto it = index_.find(key);
    return it == index_.end() || erased_.count(key) ? nullptr : &entries_[it->second].second;
  }
  void Erase(const std::string& key) { erased_.insert(key); }
  template <typename F>
  void ForEach(F f) const {
    for (const auto& [key, value] : entries_) {
      if (!erased_.count(key)) f(key, value);
    }
  }

 private:
  State entries_;
  std::map<std::string, size_t> index_;
  std::set<std::string> erased_;
};

bool Matches(const std::string& model_key, const std::string& ckpt_key) {
  return model_key == ckpt_key ||
         (model_key.size() > ckpt_key.size() && absl::EndsWith(model_key, ckpt_key) &&
          model_key[model_key.size() - ckpt_key.size() - 1] == '.');
}

// detectron2's align_and_update_state_dicts (after any C2 renaming, which LoadCheckpoint did).
absl::StatusOr<OrderedState> Align(const Checkpoint& ckpt, const std::map<std::string, at::Tensor>&
                                                               model, LoadReport& report) {
  std::map<std::string, at::Tensor> ckpt_map;  // sorted, like sorted(ckpt_state_dict.keys())
  for (const auto& [key, value] : ckpt.tensors) ckpt_map[key] = value;
  OrderedState result;
  std::map<std::string, std::string> matched;  // checkpoint key -> model key
  for (const auto& [model_key, model_value] : model) {
    const std::string* best = nullptr;
    for (const auto& [ckpt_key, unused] : ckpt_map) {
      if (Matches(model_key, ckpt_key) && (best == nullptr || ckpt_key.size() > best->size())) {
        best = &ckpt_key;
      }
    }
    if (best == nullptr) continue;
    const at::Tensor& value = ckpt_map.at(*best);
    if (value.sizes() != model_value.sizes()) {
      LOG(WARNING) << ckpt.path << ": shape of " << *best << " in checkpoint is " << Shape(value)
                   << ", while shape of " << model_key << " in model is " << Shape(model_value)
                   << "; it will not be loaded";
      if (*best != model_key) {  // otherwise the exact-name shape check reports it below
        report.shape_mismatch.push_back(model_key);
        report.shape_mismatch_details.push_back(
            absl::StrCat(model_key, " (from ", *best, "): checkpoint ", Shape(value), " vs model ",
                         Shape(model_value)));
      }
      continue;
    }
    result.Set(model_key, value);
    if (auto it = matched.find(*best); it != matched.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          ckpt.path, ": ambiguous matching: checkpoint key '", *best,
          "' matches at least two model keys ('", model_key, "' and '", it->second, "')"));
    }
    matched[*best] = model_key;
  }
  if (matched.empty()) {
    LOG(WARNING) << ckpt.path << ": no weights in the checkpoint matched the model by name suffix";
    OrderedState unchanged;
    for (const auto& [key, value] : ckpt.tensors) unchanged.Set(key, value);
    return unchanged;
  }
  for (const auto& [ckpt_key, model_key] : matched) {
    if (ckpt_key != model_key) report.matched_from[model_key] = ckpt_key;
  }
  for (const auto& [ckpt_key, value] : ckpt_map) {
    if (!matched.count(ckpt_key)) result.Set(ckpt_key, value);  // unmatched keys pass through
  }
  return result;
}

std::string Preview(const std::vector<std::string>& keys, size_t max = 20) {
  std::vector<std::string> head(keys.begin(), keys.begin() + std::min(max, keys.size()));
  std::string out = absl::StrJoin(head, ", ");
  if (keys.size() > max) absl::StrAppend(&out, ", ... (", keys.size() - max, " more)");
  return out;
}

absl::StatusOr<LoadReport> LoadIntoModelImpl(const Checkpoint& ckpt, const State& model_state) {
  std::map<std::string, at::Tensor> model;
  for (const auto& [key, value] : model_state) {
    if (!value.defined()) {
      return absl::InvalidArgumentError(
          absl::StrCat("LoadIntoModel(", ckpt.path, "): model tensor '", key, "' is undefined"));
    }
    if (!model.emplace(key, value).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("LoadIntoModel(", ckpt.path, "): model key '", key, "' appears twice"));
    }
  }
  LoadReport report;

  // 1. Name matching.
  OrderedState state;
  std::optional<std::map<std::string, int64_t>> versions = ckpt.module_versions;
  if (ckpt.matching_heuristics) {
    absl::StatusOr<OrderedState> aligned = Align(ckpt, model, report);
    if (!aligned.ok()) return aligned.status();
    state = std::move(*aligned);
    versions.reset();  // align_and_update_state_dicts returns a plain dict: no _metadata
  } else {
    for (const auto& [key, value] : ckpt.tensors) state.Set(key, value);
  }

  // 2. fvcore drops checkpoint values whose shape differs from the model's.
  std::vector<std::string> drop;
  state.ForEach([&](const std::string& key, const at::Tensor& value) {
    auto it = model.find(key);
    if (it != model.end() && it->second.sizes() != value.sizes()) {
      drop.push_back(key);
      report.shape_mismatch.push_back(key);
      report.shape_mismatch_details.push_back(absl::StrCat(
          key, ": checkpoint ", Shape(value), " vs model ", Shape(it->second)));
    }
  });
  for (const std::string& key : drop) state.Erase(key);

  // 3. Norm layers' _load_from_state_dict for checkpoints without version >= 2 metadata.
  for (const auto& [key, value] : model) {
    if (!absl::EndsWith(key, "running_mean")) continue;
    const std::string prefix = key.substr(0, key.size() - std::string("running_mean").size());
    if (!prefix.empty() && prefix.back() != '.') continue;
    if (!model.count(prefix + "running_var")) continue;
    const std::string module = prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1);
    std::optional<int64_t> version;
    if (versions.has_value()) {
      if (auto it = versions->find(module); it != versions->end()) version = it->second;
    }
    if (version.has_value() && *version >= 2) continue;
    const bool frozen = !model.count(prefix + "num_batches_tracked");
    auto fill = [&](const std::string& name, at::Tensor filled) {
      if (state.Find(name) != nullptr) return;
      state.Set(name, filled);
      report.filled_default.push_back(name);
    };
    if (frozen) {  // detectron2's FrozenBatchNorm2d
      fill(prefix + "running_mean", at::zeros_like(model.at(prefix + "running_mean")));
      fill(prefix + "running_var", at::ones_like(model.at(prefix + "running_var")));
    } else {  // torch's BatchNorm: num_batches_tracked defaults to 0
      fill(prefix + "num_batches_tracked",
           at::zeros_like(model.at(prefix + "num_batches_tracked")));
    }
  }

  // 4. Missing and unexpected keys.
  for (const auto& [key, value] : model) {
    if (state.Find(key) == nullptr && key != "pixel_mean" && key != "pixel_std") {
      report.missing.push_back(key);
    }
  }
  state.ForEach([&](const std::string& key, const at::Tensor&) {
    if (!model.count(key) && !absl::StrContains(key, "anchor_generator.cell_anchors")) {
      report.unexpected.push_back(key);
    }
  });
  if (!report.missing.empty()) {
    std::string msg = absl::StrCat(ckpt.path, ": checkpoint has no value for ",
                                   report.missing.size(), " of the model's ", model.size(),
                                   " weights: ", Preview(report.missing));
    if (!report.shape_mismatch_details.empty()) {
      absl::StrAppend(&msg, "; shape mismatches: ", Preview(report.shape_mismatch_details, 5));
    }
    return absl::NotFoundError(msg);
  }

  // 5. Copy.
  try {
    at::NoGradGuard no_grad;
    for (const auto& [key, target] : model) {
      const at::Tensor* value = state.Find(key);
      if (value == nullptr) continue;  // pixel_mean / pixel_std from the config
      target.copy_(*value);
      report.loaded.push_back(key);
    }
  } catch (const std::exception& e) {
    std::string what = e.what();
    return absl::InternalError(absl::StrCat(ckpt.path, ": copying weights into the model: ",
                                            what.substr(0, what.find('\n'))));
  }
  return report;
}

}  // namespace

std::string LoadReport::ToString() const {
  std::string out = absl::StrCat("loaded ", loaded.size(), " tensors");
  if (!matched_from.empty()) {
    absl::StrAppend(&out, "\n  renamed by matching heuristics: ", matched_from.size());
  }
  if (!filled_default.empty()) {
    absl::StrAppend(&out, "\n  filled with defaults (", filled_default.size(),
                    "): ", Preview(filled_default));
  }
  if (!shape_mismatch_details.empty()) {
    absl::StrAppend(&out, "\n  shape mismatch, not loaded (", shape_mismatch_details.size(),
                    "): ", Preview(shape_mismatch_details));
  }
  if (!missing.empty()) {
    absl::StrAppend(&out, "\n  missing (", missing.size(), "): ", Preview(missing));
  }
  if (!unexpected.empty()) {
    absl::StrAppend(&out, "\n  unexpected, ignored (", unexpected.size(),
                    "): ", Preview(unexpected));
  }
  return out;
}

absl::StatusOr<LoadReport> LoadIntoModel(const Checkpoint& ckpt, const State& model_state) {
  absl::StatusOr<LoadReport> report = LoadIntoModelImpl(ckpt, model_state);
  if (!report.ok()) {  // keys from the file may hold newlines: keep errors on one line
    return absl::Status(report.status().code(), pickle::OneLine(report.status().message()));
  }
  return report;
}

}  // namespace d2x::checkpoint
