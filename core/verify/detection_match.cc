#include "core/verify/detection_match.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace d2x::verify {
namespace {

at::Tensor Field(const Instances& instances, const std::string& name) {
  auto it = instances.fields.find(name);
  return it == instances.fields.end() ? at::Tensor() : it->second;
}

double MaskIou(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor ma = a.to(at::kBool), mb = b.to(at::kBool);
  const double inter = (ma & mb).sum().item<double>();
  const double uni = (ma | mb).sum().item<double>();
  return uni > 0 ? inter / uni : 1.0;
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
  std::string s = absl::StrFormat(
      "%s: expected %d, actual %d, matched %d, agreeing %d (%.2f%%); worst over matched: box IoU "
      "%.6f, |score delta| %.3g",
      ok ? "OK" : "MISMATCH", num_expected, num_actual, num_matched, num_agreeing,
      100.0 * fraction, min_box_iou, max_score_delta);
  if (compared_masks) absl::StrAppendFormat(&s, ", mask IoU %.6f", min_mask_iou);
  if (compared_keypoints) absl::StrAppendFormat(&s, ", keypoint dist %.4g px", max_keypoint_dist);
  absl::StrAppendFormat(&s, "; worst over agreeing: box IoU %.6f, |score delta| %.3g",
                        agreeing_min_box_iou, agreeing_max_score_delta);
  if (compared_masks) absl::StrAppendFormat(&s, ", mask IoU %.6f", agreeing_min_mask_iou);
  if (compared_keypoints) {
    absl::StrAppendFormat(&s, ", keypoint dist %.4g px", agreeing_max_keypoint_dist);
  }
  if (num_tied_at_lowest_score > 0) {
    absl::StrAppendFormat(&s,
                          "; %d expected detections tie exactly at the lowest score (which tied "
                          "candidates a top-k keeps is implementation-defined)",
                          num_tied_at_lowest_score);
  }
  for (const std::string& p : problems) absl::StrAppend(&s, "\n  ", p);
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

}  // namespace

MatchReport MatchDetections(const DetectionSet& expected, const DetectionSet& actual,
                            const MatchOptions& options) {
  MatchReport report;
  report.num_expected = expected.size();
  report.num_actual = actual.size();
  const int64_t n = report.num_expected, m = report.num_actual;
  const int64_t denom = std::max(n, m);
  if (denom == 0) {
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

  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return e_score_p[a] > e_score_p[b]; });
  std::vector<bool> used(m, false);

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
      report.problems.push_back(absl::StrCat(
          absl::StrFormat("expected #%d (class %d, score %.5f) has no actual detection of its "
                          "class overlapping it",
                          i, e_cls_p[i], e_score_p[i]),
          TieNote(e_score_counts, e_score_p[i], "expected")));
      continue;
    }
    used[best] = true;
    ++report.num_matched;
    const double score_delta = std::abs(e_score_p[i] - a_score_p[best]);
    double mask_iou = 1.0, kp_dist = 0.0;
    if (with_masks) mask_iou = MaskIou(expected.masks[i], actual.masks[best]);
    if (with_keypoints) {
      at::Tensor d = (expected.keypoints[i].slice(1, 0, 2).to(at::kDouble) -
                      actual.keypoints[best].slice(1, 0, 2).to(at::kDouble));
      kp_dist = d.pow(2).sum(1).sqrt().max().item<double>();
    }
    report.min_box_iou = std::min(report.min_box_iou, best_iou);
    report.max_score_delta = std::max(report.max_score_delta, score_delta);
    report.min_mask_iou = std::min(report.min_mask_iou, mask_iou);
    report.max_keypoint_dist = std::max(report.max_keypoint_dist, kp_dist);

    const bool agree = best_iou > options.box_iou && score_delta < options.score_delta &&
                       (!with_masks || mask_iou > options.mask_iou) &&
                       (!with_keypoints || kp_dist <= options.keypoint_px);
    if (agree) {
      ++report.num_agreeing;
      report.agreeing_min_box_iou = std::min(report.agreeing_min_box_iou, best_iou);
      report.agreeing_max_score_delta = std::max(report.agreeing_max_score_delta, score_delta);
      report.agreeing_min_mask_iou = std::min(report.agreeing_min_mask_iou, mask_iou);
      report.agreeing_max_keypoint_dist = std::max(report.agreeing_max_keypoint_dist, kp_dist);
    } else {
      // The expected box's size tells sub-pixel boxes (whose IoU is dominated by float
      // rounding of their coordinates) apart; mask sizes likewise for tiny masks.
      const at::Tensor box = expected.boxes[i].to(at::kDouble);
      std::string line = absl::StrFormat(
          "expected #%d (class %d, score %.5f, box %.4gx%.4g px) vs actual #%d (score %.5f): "
          "box IoU %.6f, |score delta| %.3g",
          i, e_cls_p[i], e_score_p[i], (box[2] - box[0]).item<double>(),
          (box[3] - box[1]).item<double>(), best, a_score_p[best], best_iou, score_delta);
      if (with_masks) {
        absl::StrAppendFormat(&line, ", mask IoU %.6f (%d / %d px)", mask_iou,
                              expected.masks[i].to(at::kBool).sum().item<int64_t>(),
                              actual.masks[best].to(at::kBool).sum().item<int64_t>());
      }
      if (with_keypoints) absl::StrAppendFormat(&line, ", keypoint dist %.4g px", kp_dist);
      absl::StrAppend(&line, TieNote(e_score_counts, e_score_p[i], "expected"));
      report.problems.push_back(line);
    }
  }
  for (int64_t j = 0; j < m; ++j) {
    if (!used[j]) {
      report.problems.push_back(
          absl::StrCat(absl::StrFormat("actual #%d (class %d, score %.5f) is unmatched", j,
                                       a_cls_p[j], a_score_p[j]),
                       TieNote(a_score_counts, a_score_p[j], "actual")));
    }
  }
  if (n >= 2) {
    const double lowest = *std::min_element(e_score_p, e_score_p + n);
    const int64_t tied = std::count(e_score_p, e_score_p + n, lowest);
    if (tied >= 2) report.num_tied_at_lowest_score = tied;
  }
  report.fraction = static_cast<double>(report.num_agreeing) / static_cast<double>(denom);
  report.ok = report.fraction >= options.min_fraction;
  return report;
}

}  // namespace d2x::verify
