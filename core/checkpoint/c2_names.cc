#include "core/checkpoint/c2_names.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <exception>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/checkpoint/pickle_text.h"

namespace d2x::checkpoint {
namespace {

// Python's str.replace(from, to).
void Replace(std::string* s, const char* from, const char* to) {
  *s = absl::StrReplaceAll(*s, {{from, to}});
}

// A regex literal of the rules: '.' escaped as "\\." matches only '.', an unescaped '.' matches
// any character but '\n'. Here `pattern` marks the wildcard positions with '?'.
bool MatchesAt(const std::string& s, size_t pos, const std::string& pattern) {
  if (pos + pattern.size() > s.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char p = pattern[i];
    const char c = s[pos + i];
    if (p == '?' ? c == '\n' : c != p) return false;
  }
  return true;
}

// re.sub("<pattern>$", to, s).
void SubSuffix(std::string* s, const std::string& pattern, const std::string& to) {
  if (s->size() < pattern.size()) return;
  const size_t pos = s->size() - pattern.size();
  if (MatchesAt(*s, pos, pattern)) *s = s->substr(0, pos) + to;
}

// re.sub("^<pattern>", to, s).
void SubPrefix(std::string* s, const std::string& pattern, const std::string& to) {
  if (MatchesAt(*s, 0, pattern)) *s = to + s->substr(pattern.size());
}

// Python's int() of `digits` (as detectron2's fpn_map applies it to "res2"[3:]).
absl::StatusOr<int64_t> PythonInt(const std::string& digits) {
  int64_t value = 0;
  bool overflow = false;
  absl::Status s = pickle::ParseDecimal(digits, &value, &overflow);
  if (!s.ok() || overflow) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse an FPN stage number from '", digits, "'"));
  }
  return value;
}

// detectron2's fpn_map.
absl::StatusOr<std::string> FpnMap(const std::string& name) {
  const std::vector<std::string> splits = absl::StrSplit(name, '.');
  const std::string norm =
      std::find(splits.begin(), splits.end(), "norm") != splits.end() ? ".norm" : "";
  auto stage_of = [&](const std::string& part) -> absl::StatusOr<int64_t> {
    return PythonInt(part.size() > 3 ? part.substr(3) : "");
  };
  if (absl::StartsWith(name, "fpn.inner.")) {
    absl::StatusOr<int64_t> stage = stage_of(splits[2]);
    if (!stage.ok()) return stage.status();
    return absl::StrCat("fpn_lateral", *stage, norm, ".", splits.back());
  }
  if (absl::StartsWith(name, "fpn.res")) {
    absl::StatusOr<int64_t> stage = stage_of(splits[1]);
    if (!stage.ok()) return stage.status();
    return absl::StrCat("fpn_output", *stage, norm, ".", splits.back());
  }
  return name;
}

}  // namespace

std::string ConvertBasicC2Name(const std::string& original) {
  std::string k = original;
  if (k == "pred_b") k = "linear_b";  // some hard-coded mappings
  if (k == "pred_w") k = "linear_w";
  std::replace(k.begin(), k.end(), '_', '.');
  SubSuffix(&k, ".b", ".bias");
  SubSuffix(&k, ".w", ".weight");
  // Uniform both bn and gn names to "norm".
  SubSuffix(&k, "bn.s", "norm.weight");
  SubSuffix(&k, "bn.bias", "norm.bias");
  Replace(&k, "bn.rm", "norm.running_mean");  // not anchored in detectron2
  SubSuffix(&k, "bn.running?mean", "norm.running_mean");
  SubSuffix(&k, "bn.riv", "norm.running_var");
  SubSuffix(&k, "bn.running?var", "norm.running_var");
  SubSuffix(&k, "bn.gamma", "norm.weight");
  SubSuffix(&k, "bn.beta", "norm.bias");
  SubSuffix(&k, "gn.s", "norm.weight");
  SubSuffix(&k, "gn.bias", "norm.bias");
  // Stem.
  SubPrefix(&k, "res.conv1.norm.", "conv1.norm.");
  SubPrefix(&k, "conv1.", "stem.conv1.");
  // Blocks.
  Replace(&k, ".branch1.", ".shortcut.");
  Replace(&k, ".branch2a.", ".conv1.");
  Replace(&k, ".branch2b.", ".conv2.");
  Replace(&k, ".branch2c.", ".conv3.");
  // DensePose substitutions.
  SubPrefix(&k, "body?conv?fcn", "body_conv_fcn");
  Replace(&k, "AnnIndex.lowres", "ann_index_lowres");
  Replace(&k, "Index.UV.lowres", "index_uv_lowres");
  Replace(&k, "U.lowres", "u_lowres");
  Replace(&k, "V.lowres", "v_lowres");
  return k;
}

absl::StatusOr<std::string> ConvertC2DetectronName(const std::string& original) {
  std::string k = ConvertBasicC2Name(original);
  // RPN hidden conv (FPN case: defined for level 2 and shared), then the non-FPN case.
  Replace(&k, "conv.rpn.fpn2", "proposal_generator.rpn_head.conv");
  Replace(&k, "conv.rpn", "proposal_generator.rpn_head.conv");
  // RPN box / objectness convs.
  Replace(&k, "rpn.bbox.pred.fpn2", "proposal_generator.rpn_head.anchor_deltas");
  Replace(&k, "rpn.cls.logits.fpn2", "proposal_generator.rpn_head.objectness_logits");
  Replace(&k, "rpn.bbox.pred", "proposal_generator.rpn_head.anchor_deltas");
  Replace(&k, "rpn.cls.logits", "proposal_generator.rpn_head.objectness_logits");
  // Fast R-CNN box head.
  SubPrefix(&k, "bbox.pred", "bbox_pred");
  SubPrefix(&k, "cls.score", "cls_score");
  SubPrefix(&k, "fc6.", "box_head.fc1.");
  SubPrefix(&k, "fc7.", "box_head.fc2.");
  SubPrefix(&k, "head.conv", "box_head.conv");
  // FPN lateral and output convolutions.
  absl::StatusOr<std::string> fpn = FpnMap(k);
  if (!fpn.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("C2 name '", original, "': ", fpn.status().message()));
  }
  k = std::move(*fpn);
  // Mask head.
  Replace(&k, ".[mask].fcn", "mask_head.mask_fcn");
  SubPrefix(&k, ".mask.fcn", "mask_head.mask_fcn");
  Replace(&k, "mask.fcn.logits", "mask_head.predictor");
  Replace(&k, "conv5.mask", "mask_head.deconv");
  // Keypoint head.
  Replace(&k, "conv.fcn", "roi_heads.keypoint_head.conv_fcn");
  Replace(&k, "kps.score.lowres", "roi_heads.keypoint_head.score_lowres");
  Replace(&k, "kps.score.", "roi_heads.keypoint_head.score.");
  return k;
}

absl::StatusOr<std::vector<std::pair<std::string, at::Tensor>>> ConvertC2DetectronWeights(
    std::vector<std::pair<std::string, at::Tensor>> weights) {
  std::sort(weights.begin(), weights.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, at::Tensor>> out;
  out.reserve(weights.size());
  std::set<std::string> seen;
  for (auto& [original, value] : weights) {
    absl::StatusOr<std::string> renamed = ConvertC2DetectronName(original);
    if (!renamed.ok()) return renamed.status();
    if (!seen.insert(*renamed).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "C2 names convert ambiguously: more than one weight becomes '", *renamed, "' (one is '",
          original, "')"));
    }
    const bool bbox = absl::StartsWith(*renamed, "bbox_pred.");
    const bool mask = absl::StartsWith(*renamed, "mask_head.predictor.");
    const bool cls = absl::StartsWith(*renamed, "cls_score.");
    if ((bbox || mask || cls) && value.dim() == 0) {
      return absl::InvalidArgumentError(absl::StrCat("C2 weight '", original,
                                                     "' is a scalar; cannot drop or move the "
                                                     "background class"));
    }
    try {
      if (bbox || mask) {
        // Remove the meaningless prediction weight for the background class.
        const int64_t start = std::min<int64_t>(bbox ? 4 : 1, value.size(0));
        value = value.slice(0, start, value.size(0));
      } else if (cls) {
        // Move the background class from index 0 to the last index.
        value = at::cat({value.slice(0, 1, value.size(0)), value.slice(0, 0, 1)});
      }
    } catch (const std::exception& e) {
      std::string what = e.what();
      return absl::InvalidArgumentError(absl::StrCat("C2 weight '", original, "': ",
                                                     what.substr(0, what.find('\n'))));
    }
    out.emplace_back(std::move(*renamed), std::move(value));
  }
  return out;
}

}  // namespace d2x::checkpoint
