#include "core/config/merge.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/config/python_expr.h"
#include "core/util/status_macros.h"

namespace d2x::config::internal {
namespace {

constexpr int kLatestVersion = 2;
constexpr size_t kMaxKeyForDistance = 128;

const std::string& Where(const Value& v, const std::string& fallback) {
  return v.origin.empty() ? fallback : v.origin;
}

std::string UnknownKey(const Value& root, const std::string& where, const std::string& key) {
  std::string msg = absl::StrCat(where, ": unknown config key '", key, "'");
  const std::string closest = ClosestKey(root, key);
  if (!closest.empty()) absl::StrAppend(&msg, " (did you mean '", closest, "'?)");
  return msg;
}

// yacs' _decode_cfg_value: strings go through ast.literal_eval; other values pass.
absl::StatusOr<Value> Decode(Value v, const std::string& key, const std::string& where) {
  if (v.kind != Value::Kind::kString) return v;
  LiteralResult r = ParsePythonLiteral(v.s);
  switch (r.status) {
    case LiteralResult::Status::kNotLiteral: return v;
    case LiteralResult::Status::kValue:
      r.value.origin = std::move(v.origin);
      return std::move(r.value);
    case LiteralResult::Status::kError: break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": config key '", key, "': value ", Repr(v), ": ", r.error));
}

// yacs' _check_and_coerce_cfg_value_type; converts list <-> tuple in place.
absl::Status CheckType(Value& replacement, const Value& original, const std::string& key,
                       const std::string& where) {
  const Value::Kind from = replacement.kind, to = original.kind;
  if (from == to) return absl::OkStatus();
  const bool node = from == Value::Kind::kNode || to == Value::Kind::kNode;
  if (!node && (from == Value::Kind::kNone || to == Value::Kind::kNone)) return absl::OkStatus();
  if (replacement.is_sequence() && original.is_sequence()) {
    replacement.kind = to;
    return absl::OkStatus();
  }
  std::string msg;
  if (to == Value::Kind::kNode) {
    msg = absl::StrCat(where, ": config key '", key, "' is a config node (a mapping), got ",
                       KindName(from), " ", Repr(replacement));
  } else {
    msg = absl::StrCat(where, ": type mismatch for config key '", key, "': expected ",
                       KindName(to), " (default ", Repr(original), "), got ", KindName(from),
                       " ", Repr(replacement));
  }
  if (to == Value::Kind::kBool && from == Value::Kind::kString) {
    const std::string lower = absl::AsciiStrToLower(replacement.s);
    if (lower == "true" || lower == "false" || lower == "yes" || lower == "no" ||
        lower == "on" || lower == "off") {
      absl::StrAppend(&msg, " (write Python's True or False)");
    }
  }
  return absl::InvalidArgumentError(msg);
}

// yacs' _merge_a_into_b.
absl::Status MergeAIntoB(const Value& a, Value& b, const Value& root, const std::string& prefix,
                         const std::string& source) {
  for (size_t k = 0; k < a.keys.size(); ++k) {
    const std::string full = absl::StrCat(prefix, a.keys[k]);
    const std::string& where = Where(a.items[k], source);
    Value* existing = b.Find(a.keys[k]);
    if (existing == nullptr) return absl::InvalidArgumentError(UnknownKey(root, where, full));
    D2X_ASSIGN_OR_RETURN(Value v, Decode(a.items[k], full, where));
    D2X_RETURN_IF_ERROR(CheckType(v, *existing, full, where));
    if (v.is_node()) {
      D2X_RETURN_IF_ERROR(MergeAIntoB(v, *existing, root, full + ".", source));
    } else {
      *existing = std::move(v);
    }
  }
  return absl::OkStatus();
}

// --- Versions (detectron2/config/compat.py) -----------------------------------------------------

std::vector<std::string> Split(absl::string_view dotted) { return absl::StrSplit(dotted, '.'); }

// compat._rename: moves `from` to `to`, creating parents of `to` and deleting emptied parents of
// `from`.
absl::Status Rename(Value& cfg, absl::string_view from, absl::string_view to) {
  const std::vector<std::string> old_keys = Split(from), new_keys = Split(to);
  std::vector<Value*> parents = {&cfg};
  for (size_t k = 0; k + 1 < old_keys.size(); ++k) {
    Value* next = parents.back()->Find(old_keys[k]);
    if (next == nullptr || !next->is_node()) break;
    parents.push_back(next);
  }
  const Value* found =
      parents.size() == old_keys.size() ? parents.back()->Find(old_keys.back()) : nullptr;
  if (found == nullptr) {
    return absl::InternalError(absl::StrCat("config version conversion: missing key '", from, "'"));
  }
  Value moved = *found;
  // Delete first (as pointers into `cfg` change when setting), then set.
  parents.back()->Erase(old_keys.back());
  for (size_t k = parents.size() - 1; k > 0 && parents[k]->keys.empty(); --k) {
    parents[k - 1]->Erase(old_keys[k - 1]);
  }
  Value* cur = &cfg;
  for (size_t k = 0; k + 1 < new_keys.size(); ++k) {
    Value* next = cur->Find(new_keys[k]);
    if (next == nullptr) next = &cur->Set(new_keys[k], Value::Node());
    if (!next->is_node()) {
      return absl::InternalError(absl::StrCat("config version conversion: '", to, "' blocked"));
    }
    cur = next;
  }
  cur->Set(new_keys.back(), std::move(moved));
  return absl::OkStatus();
}

struct RenamePair {
  const char* old_key;
  const char* new_key;
};

constexpr RenamePair kRenamesV1[] = {{"MODEL.RPN_HEAD.NAME", "MODEL.RPN.HEAD_NAME"}};

constexpr RenamePair kRenamesV2[] = {
    {"MODEL.WEIGHT", "MODEL.WEIGHTS"},
    {"MODEL.PANOPTIC_FPN.SEMANTIC_LOSS_SCALE", "MODEL.SEM_SEG_HEAD.LOSS_WEIGHT"},
    {"MODEL.PANOPTIC_FPN.RPN_LOSS_SCALE", "MODEL.RPN.LOSS_WEIGHT"},
    {"MODEL.PANOPTIC_FPN.INSTANCE_LOSS_SCALE", "MODEL.PANOPTIC_FPN.INSTANCE_LOSS_WEIGHT"},
    {"MODEL.PANOPTIC_FPN.COMBINE_ON", "MODEL.PANOPTIC_FPN.COMBINE.ENABLED"},
    {"MODEL.PANOPTIC_FPN.COMBINE_OVERLAP_THRESHOLD", "MODEL.PANOPTIC_FPN.COMBINE.OVERLAP_THRESH"},
    {"MODEL.PANOPTIC_FPN.COMBINE_STUFF_AREA_LIMIT", "MODEL.PANOPTIC_FPN.COMBINE.STUFF_AREA_LIMIT"},
    {"MODEL.PANOPTIC_FPN.COMBINE_INSTANCES_CONFIDENCE_THRESHOLD",
     "MODEL.PANOPTIC_FPN.COMBINE.INSTANCES_CONFIDENCE_THRESH"},
    {"MODEL.ROI_HEADS.SCORE_THRESH", "MODEL.ROI_HEADS.SCORE_THRESH_TEST"},
    {"MODEL.ROI_HEADS.NMS", "MODEL.ROI_HEADS.NMS_THRESH_TEST"},
    {"MODEL.RETINANET.INFERENCE_SCORE_THRESHOLD", "MODEL.RETINANET.SCORE_THRESH_TEST"},
    {"MODEL.RETINANET.INFERENCE_TOPK_CANDIDATES", "MODEL.RETINANET.TOPK_CANDIDATES_TEST"},
    {"MODEL.RETINANET.INFERENCE_NMS_THRESHOLD", "MODEL.RETINANET.NMS_THRESH_TEST"},
    {"TEST.DETECTIONS_PER_IMG", "TEST.DETECTIONS_PER_IMAGE"},
    {"TEST.AUG_ON", "TEST.AUG.ENABLED"},
    {"TEST.AUG_MIN_SIZES", "TEST.AUG.MIN_SIZES"},
    {"TEST.AUG_MAX_SIZE", "TEST.AUG.MAX_SIZE"},
    {"TEST.AUG_FLIP", "TEST.AUG.FLIP"},
};

Value* NodeAt(Value& cfg, absl::string_view dotted) {
  return const_cast<Value*>(FindPath(cfg, dotted));
}

// ConverterV{version}.downgrade: from `version` to `version - 1`.
absl::Status Downgrade(Value& cfg, int version) {
  if (version == 1) return Rename(cfg, kRenamesV1[0].new_key, kRenamesV1[0].old_key);
  for (auto it = std::rbegin(kRenamesV2); it != std::rend(kRenamesV2); ++it) {
    D2X_RETURN_IF_ERROR(Rename(cfg, it->new_key, it->old_key));
  }
  D2X_RETURN_IF_ERROR(
      Rename(cfg, "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", "MODEL.RPN.ANCHOR_ASPECT_RATIOS"));
  D2X_RETURN_IF_ERROR(Rename(cfg, "MODEL.ANCHOR_GENERATOR.SIZES", "MODEL.RPN.ANCHOR_SIZES"));
  Value* rpn = NodeAt(cfg, "MODEL.RPN");
  Value* retinanet = NodeAt(cfg, "MODEL.RETINANET");
  if (rpn == nullptr || retinanet == nullptr) return absl::InternalError("config downgrade");
  const Value ratios = *rpn->Find("ANCHOR_ASPECT_RATIOS");
  const Value sizes = *rpn->Find("ANCHOR_SIZES");
  retinanet->Set("ANCHOR_ASPECT_RATIOS", ratios);
  retinanet->Set("ANCHOR_SIZES", sizes);
  retinanet->Set("ANCHOR_STRIDES", Value::List({}));
  return absl::OkStatus();
}

// ConverterV{version}.upgrade: from `version - 1` to `version`.
absl::Status Upgrade(Value& cfg, int version) {
  if (version == 1) return Rename(cfg, kRenamesV1[0].old_key, kRenamesV1[0].new_key);
  for (const RenamePair& r : kRenamesV2) D2X_RETURN_IF_ERROR(Rename(cfg, r.old_key, r.new_key));
  const Value* arch = FindPath(cfg, "MODEL.META_ARCHITECTURE");
  const bool retinanet = arch != nullptr && arch->kind == Value::Kind::kString &&
                         arch->s == "RetinaNet";
  const char* keep = retinanet ? "MODEL.RETINANET" : "MODEL.RPN";
  const char* drop = retinanet ? "MODEL.RPN" : "MODEL.RETINANET";
  D2X_RETURN_IF_ERROR(Rename(cfg, absl::StrCat(keep, ".ANCHOR_ASPECT_RATIOS"),
                             "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS"));
  D2X_RETURN_IF_ERROR(Rename(cfg, absl::StrCat(keep, ".ANCHOR_SIZES"), "MODEL.ANCHOR_GENERATOR.SIZES"));
  Value* dropped = NodeAt(cfg, drop);
  Value* retina = NodeAt(cfg, "MODEL.RETINANET");
  if (dropped == nullptr || retina == nullptr) return absl::InternalError("config upgrade");
  dropped->Erase("ANCHOR_SIZES");
  dropped->Erase("ANCHOR_ASPECT_RATIOS");
  retina = NodeAt(cfg, "MODEL.RETINANET");
  retina->Erase("ANCHOR_STRIDES");
  return absl::OkStatus();
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string ClosestKey(const Value& cfg, absl::string_view key) {
  std::vector<std::string> keys;
  CollectKeys(cfg, "", keys);
  std::sort(keys.begin(), keys.end());
  key = key.substr(0, kMaxKeyForDistance);
  std::string best;
  size_t best_distance = 0;
  for (const std::string& candidate : keys) {
    const size_t d = EditDistance(key, absl::string_view(candidate).substr(0, kMaxKeyForDistance));
    if (best.empty() || d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

absl::Status MergeLoadedFile(Value& cfg, const Value& loaded, const std::string& source) {
  const Value* current = cfg.Find("VERSION");
  if (current == nullptr || current->kind != Value::Kind::kInt ||
      current->i != kLatestVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        source, ": a config file can only be merged into a config at VERSION ", kLatestVersion));
  }
  int64_t version = kLatestVersion;
  if (const Value* v = loaded.Find("VERSION"); v != nullptr) {
    if (v->kind != Value::Kind::kInt) {
      return absl::InvalidArgumentError(absl::StrCat(Where(*v, source),
                                                     ": VERSION must be an int, got ",
                                                     KindName(v->kind), " ", Repr(*v)));
    }
    version = v->i;
  } else if (FindPath(loaded, "MODEL.WEIGHT") != nullptr ||
             FindPath(loaded, "TEST.AUG_ON") != nullptr) {
    version = 1;  // compat.guess_version.
  }
  if (version > kLatestVersion || version < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": cannot merge a v", version, " config into a v", kLatestVersion, " config"));
  }
  if (version == kLatestVersion) return MergeAIntoB(loaded, cfg, cfg, "", source);
  // compat.downgrade_config, merge, compat.upgrade_config.
  Value old = cfg;
  for (int v = kLatestVersion; v > version; --v) {
    D2X_RETURN_IF_ERROR(Downgrade(old, v));
    old.Set("VERSION", Value::Int(v - 1));
  }
  D2X_RETURN_IF_ERROR(MergeAIntoB(loaded, old, old, "", source));
  for (int v = static_cast<int>(version) + 1; v <= kLatestVersion; ++v) {
    D2X_RETURN_IF_ERROR(Upgrade(old, v));
    old.Set("VERSION", Value::Int(v));
  }
  cfg = std::move(old);
  return absl::OkStatus();
}

absl::Status MergeKeyValues(Value& cfg, const std::vector<std::string>& key_values) {
  if (key_values.size() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config overrides must be KEY VALUE pairs, got an odd number (", key_values.size(),
        ") of items; the last is '", key_values.back().substr(0, 80), "'"));
  }
  const std::string where = "config override";
  for (size_t k = 0; k < key_values.size(); k += 2) {
    const std::string& key = key_values[k];
    if (key == "_BASE_") {
      return absl::InvalidArgumentError("config override: the reserved key '_BASE_' can only be "
                                        "used in files");
    }
    Value* node = &cfg;
    const std::vector<std::string> parts = Split(key);
    for (size_t p = 0; p + 1 < parts.size() && node != nullptr; ++p) {
      node = node->is_node() ? node->Find(parts[p]) : nullptr;
    }
    Value* target = (node != nullptr && node->is_node()) ? node->Find(parts.back()) : nullptr;
    if (target == nullptr) return absl::InvalidArgumentError(UnknownKey(cfg, where, key));
    D2X_ASSIGN_OR_RETURN(Value v, Decode(Value::String(key_values[k + 1]), key, where));
    D2X_RETURN_IF_ERROR(CheckType(v, *target, key, where));
    *target = std::move(v);
  }
  return absl::OkStatus();
}

}  // namespace d2x::config::internal
