#include "core/verify/detection_match.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace d2x::verify {
namespace {

at::Tensor Field(const Instances& instances, const std::string& name) {
  auto it = instances.fields.find(name);
  return it == instances.fields.end() ? at::Tensor() : it->second;
}

// Common and united pixels of two masks.
std::pair<int64_t, int64_t> MaskOverlap(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor ma = a.to(at::kBool), mb = b.to(at::kBool);
  return {(ma & mb).sum().item<int64_t>(), (ma | mb).sum().item<int64_t>()};
}

}  // namespace

at::Tensor PairwiseBoxIou(const at::Tensor& a_in, const at::Tensor& b_in) {
  at::Tensor a = a_in.to(at::kDouble), b = b_in.to(at::kDouble);
  at::Tensor area_a = (a.select(1, 2) - a.select(1, 0)) * (a.select(1, 3) - a.select(1, 1));
  at::Tensor area_b = (b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1));
  at::Tensor lt = at::max(a.unsqueeze(1).slice(2, 0, 2), b.unsqueeze(0).slice(2, 0, 2));
  at::Tensor rb = at::min(a.unsqueeze(1).slice(2, 2, 4), b.unsqueeze(0).slice(2, 2, 4));
  at::Tensor wh = (rb - lt).clamp_min(0);
  at::Tensor inter = wh.select(2, 0) * wh.select(2, 1);
  at::Tensor uni = area_a.unsqueeze(1) + area_b.unsqueeze(0) - inter;
  return at::where(uni > 0, inter / uni, at::zeros_like(inter));
}

Agreement BoxAgreement(const at::Tensor& a, const at::Tensor& b, double iou,
                       const MatchOptions& options) {
  if (iou > options.box_iou) return Agreement::kByRatio;
  const double max_diff = (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
  return max_diff <= options.box_atol_px ? Agreement::kAtFloatResolution : Agreement::kNo;
}

Agreement RegionAgreement(int64_t inter, int64_t uni, const MatchOptions& options) {
  if (uni == 0 || static_cast<double>(inter) / static_cast<double>(uni) > options.mask_iou) {
    return Agreement::kByRatio;
  }
  return uni - inter <= options.mask_pixel_floor ? Agreement::kAtFloatResolution
                                                 : Agreement::kNo;
}

DetectionSet FromInstances(const Instances& instances) {
  DetectionSet set;
  set.boxes = Field(instances, "pred_boxes");
  set.scores = Field(instances, "scores");
  set.classes = Field(instances, "pred_classes");
  set.masks = Field(instances, "pred_masks");
  set.keypoints = Field(instances, "pred_keypoints");
  return set;
}

std::string MatchReport::Summary() const {
  const int64_t compared = std::max(num_expected - num_tie_excused_expected,
                                    num_actual - num_tie_excused_actual);
  std::string s = absl::StrFormat("%s: expected %d, actual %d, matched %d, agreeing %d",
                                  ok ? "OK" : "MISMATCH", num_expected, num_actual, num_matched,
                                  num_agreeing);
  if (compared < std::max(num_expected, num_actual)) {
    absl::StrAppendFormat(&s, " of %d compared", compared);
  }
  absl::StrAppendFormat(&s, " (%.2f%%); worst over matched: box IoU %.6f, |score delta| %.3g",
                        100.0 * fraction, min_box_iou, max_score_delta);
  if (compared_masks) absl::StrAppendFormat(&s, ", mask IoU %.6f", min_mask_iou);
  if (compared_keypoints) absl::StrAppendFormat(&s, ", keypoint dist %.4g px", max_keypoint_dist);
  absl::StrAppendFormat(&s, "; worst over agreeing: box IoU %.6f, |score delta| %.3g",
                        agreeing_min_box_iou, agreeing_max_score_delta);
  if (compared_masks) absl::StrAppendFormat(&s, ", mask IoU %.6f", agreeing_min_mask_iou);
  if (compared_keypoints) {
    absl::StrAppendFormat(&s, ", keypoint dist %.4g px", agreeing_max_keypoint_dist);
  }
  if (num_agreeing_at_resolution > 0) {
    absl::StrAppendFormat(&s, "; %d of the agreeing pairs only at float resolution",
                          num_agreeing_at_resolution);
  }
  if (num_tie_excused_expected + num_tie_excused_actual > 0) {
    absl::StrAppendFormat(&s,
                          "; %d expected and %d actual detections of an exact tie at the lowest "
                          "score left out (which tied candidates a top-k or NMS keeps is "
                          "implementation-defined)",
                          num_tie_excused_expected, num_tie_excused_actual);
  } else if (num_tied_at_lowest_score > 0) {
    absl::StrAppendFormat(&s, "; %d expected detections tie exactly at the lowest score",
                          num_tied_at_lowest_score);
  }
  for (const std::string& p : problems) absl::StrAppend(&s, "\n  ", p);
  for (const std::string& n : notes) absl::StrAppend(&s, "\n  note: ", n);
  return s;
}

namespace {

// How many of `scores[0..n)` equal each value exactly.
std::map<double, int64_t> ScoreCounts(const double* scores, int64_t n) {
  std::map<double, int64_t> counts;
  for (int64_t i = 0; i < n; ++i) ++counts[scores[i]];
  return counts;
}

// "; score tied exactly with K other <side> detections" when K > 0: which of exactly tied
// candidates a top-k or NMS keeps is implementation-defined, so such disagreements are ties,
// not numerical differences.
std::string TieNote(const std::map<double, int64_t>& counts, double score, const char* side) {
  const int64_t others = counts.at(score) - 1;
  if (others == 0) return "";
  return absl::StrFormat("; score tied exactly with %d other %s detection%s", others, side,
                         others == 1 ? "" : "s");
}

// A detection that did not agree: its line, and its score for the tie rule.
struct Miss {
  double score;
  std::string line;
};

}  // namespace

MatchReport MatchDetections(const DetectionSet& expected, const DetectionSet& actual,
                            const MatchOptions& options) {
  MatchReport report;
  report.num_expected = expected.size();
  report.num_actual = actual.size();
  const int64_t n = report.num_expected, m = report.num_actual;
  if (std::max(n, m) == 0) {
    report.fraction = 1.0;
    report.ok = true;
    return report;
  }

  at::Tensor iou = (n > 0 && m > 0) ? PairwiseBoxIou(expected.boxes, actual.boxes).contiguous()
                                    : at::zeros({n, m}, at::kDouble);
  at::Tensor e_cls = expected.classes.to(at::kLong).contiguous();
  at::Tensor a_cls = m > 0 ? actual.classes.to(at::kLong).contiguous() : at::zeros({0}, at::kLong);
  at::Tensor e_score = expected.scores.to(at::kDouble).contiguous();
  at::Tensor a_score = m > 0 ? actual.scores.to(at::kDouble).contiguous()
                             : at::zeros({0}, at::kDouble);
  const double* iou_p = iou.data_ptr<double>();
  const int64_t* e_cls_p = e_cls.data_ptr<int64_t>();
  const int64_t* a_cls_p = a_cls.data_ptr<int64_t>();
  const double* e_score_p = e_score.data_ptr<double>();
  const double* a_score_p = a_score.data_ptr<double>();

  const std::map<double, int64_t> e_score_counts = ScoreCounts(e_score_p, n);
  const std::map<double, int64_t> a_score_counts = ScoreCounts(a_score_p, m);

  const bool with_masks = expected.masks.defined() && actual.masks.defined();
  const bool with_keypoints = expected.keypoints.defined() && actual.keypoints.defined();
  report.compared_masks = with_masks;
  report.compared_keypoints = with_keypoints;

  // The exact tie at the lowest score shared by both sides, if any (see the header).
  const double lowest_e = n > 0 ? *std::min_element(e_score_p, e_score_p + n) : 0.0;
  if (n >= 2) {
    const int64_t tied = e_score_counts.at(lowest_e);
    if (tied >= 2) report.num_tied_at_lowest_score = tied;
  }
  const bool tie_shared = options.excuse_exact_ties && report.num_tied_at_lowest_score >= 2 &&
                          m > 0 && *std::min_element(a_score_p, a_score_p + m) == lowest_e;
  // A disagreeing detection with the tie score is left out of the fraction and the worst values.
  auto excused = [&](double score) { return tie_shared && score == lowest_e; };

  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return e_score_p[a] > e_score_p[b]; });
  std::vector<bool> used(m, false), actual_agrees(m, false);
  std::vector<Miss> expected_misses;

  for (int64_t i : order) {
    int64_t best = -1;
    double best_iou = 0.0;
    for (int64_t j = 0; j < m; ++j) {
      if (used[j] || a_cls_p[j] != e_cls_p[i]) continue;
      const double v = iou_p[i * m + j];
      if (v > best_iou) {
        best_iou = v;
        best = j;
      }
    }
    if (best < 0) {
      expected_misses.push_back(
          {e_score_p[i],
           absl::StrCat(absl::StrFormat("expected #%d (class %d, score %.5f) has no actual "
                                        "detection of its class overlapping it",
                                        i, e_cls_p[i], e_score_p[i]),
                        TieNote(e_score_counts, e_score_p[i], "expected"))});
      continue;
    }
    used[best] = true;
    ++report.num_matched;
    const double score_delta = std::abs(e_score_p[i] - a_score_p[best]);
    const Agreement box = BoxAgreement(expected.boxes[i], actual.boxes[best], best_iou, options);
    Agreement mask = Agreement::kByRatio;
    double mask_iou = 1.0, kp_dist = 0.0;
    int64_t mask_inter = 0, mask_union = 0;
    if (with_masks) {
      std::tie(mask_inter, mask_union) = MaskOverlap(expected.masks[i], actual.masks[best]);
      mask_iou = mask_union > 0 ? static_cast<double>(mask_inter) / mask_union : 1.0;
      mask = RegionAgreement(mask_inter, mask_union, options);
    }
    if (with_keypoints) {
      at::Tensor d = (expected.keypoints[i].slice(1, 0, 2).to(at::kDouble) -
                      actual.keypoints[best].slice(1, 0, 2).to(at::kDouble));
      kp_dist = d.pow(2).sum(1).sqrt().max().item<double>();
    }

    // The expected box's size tells sub-pixel boxes (whose IoU is dominated by float rounding of
    // their coordinates) apart; mask sizes likewise for tiny masks.
    auto describe = [&]() {
      const at::Tensor e_box = expected.boxes[i].to(at::kDouble);
      const double max_coord_diff =
          (e_box - actual.boxes[best].to(at::kDouble)).abs().max().item<double>();
      std::string line = absl::StrFormat(
          "expected #%d (class %d, score %.5f, box %.4gx%.4g px) vs actual #%d (score %.5f): "
          "box IoU %.6f (coordinates within %.3g px), |score delta| %.3g",
          i, e_cls_p[i], e_score_p[i], (e_box[2] - e_box[0]).item<double>(),
          (e_box[3] - e_box[1]).item<double>(), best, a_score_p[best], best_iou, max_coord_diff,
          score_delta);
      if (with_masks) {
        absl::StrAppendFormat(&line, ", mask IoU %.6f (%d / %d px, %d differ)", mask_iou,
                              expected.masks[i].to(at::kBool).sum().item<int64_t>(),
                              actual.masks[best].to(at::kBool).sum().item<int64_t>(),
                              mask_union - mask_inter);
      }
      if (with_keypoints) absl::StrAppendFormat(&line, ", keypoint dist %.4g px", kp_dist);
      return line;
    };

    const bool agree = box != Agreement::kNo && score_delta < options.score_delta &&
                       mask != Agreement::kNo &&
                       (!with_keypoints || kp_dist <= options.keypoint_px);
    if (agree || !(excused(e_score_p[i]) || excused(a_score_p[best]))) {
      report.min_box_iou = std::min(report.min_box_iou, best_iou);
      report.max_score_delta = std::max(report.max_score_delta, score_delta);
      report.min_mask_iou = std::min(report.min_mask_iou, mask_iou);
      report.max_keypoint_dist = std::max(report.max_keypoint_dist, kp_dist);
    }
    if (agree) {
      ++report.num_agreeing;
      actual_agrees[best] = true;
      report.agreeing_min_box_iou = std::min(report.agreeing_min_box_iou, best_iou);
      report.agreeing_max_score_delta = std::max(report.agreeing_max_score_delta, score_delta);
      report.agreeing_min_mask_iou = std::min(report.agreeing_min_mask_iou, mask_iou);
      report.agreeing_max_keypoint_dist = std::max(report.agreeing_max_keypoint_dist, kp_dist);
      if (box == Agreement::kAtFloatResolution || mask == Agreement::kAtFloatResolution) {
        ++report.num_agreeing_at_resolution;
        report.notes.push_back(absl::StrCat(describe(), ": agrees at float resolution"));
      }
    } else {
      expected_misses.push_back(
          {e_score_p[i],
           absl::StrCat(describe(), TieNote(e_score_counts, e_score_p[i], "expected"))});
    }
  }
  std::vector<Miss> actual_misses;
  for (int64_t j = 0; j < m; ++j) {
    if (!used[j]) {
      actual_misses.push_back(
          {a_score_p[j],
           absl::StrCat(absl::StrFormat("actual #%d (class %d, score %.5f) is unmatched", j,
                                        a_cls_p[j], a_score_p[j]),
                        TieNote(a_score_counts, a_score_p[j], "actual"))});
    }
  }

  // Misses of the shared tie are counted in *num_excused; the others are problems.
  auto sort_out = [&](const std::vector<Miss>& misses, int64_t* num_excused) {
    for (const Miss& miss : misses) {
      if (excused(miss.score)) {
        ++*num_excused;
      } else {
        report.problems.push_back(miss.line);
      }
    }
  };
  sort_out(expected_misses, &report.num_tie_excused_expected);
  // Matched actual detections that disagree are counted on the actual side too.
  for (int64_t j = 0; j < m; ++j) {
    if (used[j] && !actual_agrees[j] && excused(a_score_p[j])) {
      ++report.num_tie_excused_actual;
    }
  }
  sort_out(actual_misses, &report.num_tie_excused_actual);

  const int64_t denom = std::max(n - report.num_tie_excused_expected,
                                 m - report.num_tie_excused_actual);
  report.fraction =
      denom == 0 ? 1.0 : static_cast<double>(report.num_agreeing) / static_cast<double>(denom);
  report.ok = report.fraction >= options.min_fraction;
  return report;
}

}  // namespace d2x::verify
