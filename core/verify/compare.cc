#include "core/verify/compare.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/util/tensor_diff.h"

namespace d2x::verify {
namespace {

FieldDiff DiffField(const std::string& name, const at::Tensor& a, const at::Tensor& b) {
  FieldDiff d;
  d.name = name;
  d.same_shape = a.defined() && b.defined() && a.sizes() == b.sizes();
  if (!d.same_shape) return d;
  d.identical = a.scalar_type() == b.scalar_type() && at::equal(a.contiguous(), b.contiguous());
  if (a.numel() == 0 || d.identical) return d;
  d.max_abs_diff = util::MaxAbsDiff(a, b);
  return d;
}

// The first 20 lines of a report's list (report.json stays short; Summary() has them all).
std::vector<std::string> FirstLines(const std::vector<std::string>& lines) {
  return std::vector<std::string>(lines.begin(),
                                  lines.begin() + std::min<size_t>(lines.size(), 20));
}

// Fraction of equal elements (1 for empty tensors).
double EqualFraction(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0) return 1.0;
  return (a == b).to(at::kDouble).mean().item<double>();
}

DenseComparison CompareDense(const ImageResult& e, const ImageResult& a,
                             const MatchOptions& options) {
  DenseComparison d;
  if (!e.sem_seg.defined() && !e.panoptic_seg.defined()) return d;
  d.compared = true;
  if (e.sem_seg.defined()) {
    if (!a.sem_seg.defined() || a.sem_seg.sizes() != e.sem_seg.sizes()) {
      d.sem_seg_argmax_agreement = 0.0;
      d.problem = "sem_seg missing or of another shape";
    } else {
      d.sem_seg_argmax_agreement = EqualFraction(e.sem_seg.argmax(0), a.sem_seg.argmax(0));
    }
    d.fields.push_back(DiffField("sem_seg", e.sem_seg, a.sem_seg));
  }
  if (e.panoptic_seg.defined()) {
    d.compared_segments = true;
    d.segments = MatchSegments(e, a, options);
    d.fields.push_back(DiffField("panoptic_seg", e.panoptic_seg, a.panoptic_seg));
  }
  return d;
}

}  // namespace

bool BatchComparison::identical() const {
  if (!error.empty()) return false;
  for (const ImageComparison& image : images) {
    for (const FieldDiff& f : image.fields) {
      if (!f.identical) return false;
    }
    for (const FieldDiff& f : image.dense.fields) {
      if (!f.identical) return false;
    }
  }
  return true;
}

std::string BatchComparison::Summary() const {
  if (!error.empty()) return absl::StrCat(name, ": FAILED: ", error);
  std::string s = absl::StrCat(name, ": ", ok ? "OK" : "MISMATCH",
                               identical() ? " (bit-identical)" : "");
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageComparison& c = images[i];
    absl::StrAppend(&s, "\n  image ", i, " (", c.actual_height, "x", c.actual_width, "): ",
                    c.match.Summary());
    if (c.expected_height != c.actual_height || c.expected_width != c.actual_width) {
      absl::StrAppend(&s, "\n    output size ", c.actual_height, "x", c.actual_width,
                      " but expected ", c.expected_height, "x", c.expected_width);
    }
    if (c.dense.compared) {
      absl::StrAppendFormat(&s, "\n    semantic argmax agreement %.4f",
                            c.dense.sem_seg_argmax_agreement);
      if (!c.dense.problem.empty()) absl::StrAppend(&s, " (", c.dense.problem, ")");
      if (c.dense.compared_segments) {
        absl::StrAppend(&s, "\n    ", c.dense.segments.Summary());
      }
    }
    std::vector<FieldDiff> all = c.fields;
    all.insert(all.end(), c.dense.fields.begin(), c.dense.fields.end());
    for (const FieldDiff& f : all) {
      if (f.identical) continue;
      absl::StrAppend(&s, "\n    ", f.name, ": ",
                      f.same_shape ? absl::StrFormat("max |diff| %.3g", f.max_abs_diff)
                                   : std::string("shapes differ"));
    }
  }
  return s;
}

nlohmann::json BatchComparison::ToJson() const {
  nlohmann::json j = {{"name", name}, {"ok", ok}, {"identical", identical()}};
  if (!error.empty()) j["error"] = error;
  nlohmann::json list = nlohmann::json::array();
  for (const ImageComparison& c : images) {
    const MatchReport& m = c.match;
    nlohmann::json image = {
        {"ok", c.ok},
        {"output_size", {c.actual_height, c.actual_width}},
        {"expected_output_size", {c.expected_height, c.expected_width}},
        {"num_expected", m.num_expected},
        {"num_actual", m.num_actual},
        {"num_matched", m.num_matched},
        {"num_agreeing", m.num_agreeing},
        {"agreeing_fraction", m.fraction},
        {"min_box_iou", m.min_box_iou},
        {"max_score_delta", m.max_score_delta},
    };
    if (m.compared_masks) image["min_mask_iou"] = m.min_mask_iou;
    if (m.compared_keypoints) image["max_keypoint_dist_px"] = m.max_keypoint_dist;
    if (m.num_agreeing_at_resolution > 0) {
      image["num_agreeing_at_float_resolution"] = m.num_agreeing_at_resolution;
    }
    if (m.num_tied_at_lowest_score > 0) {
      image["num_tied_at_lowest_score"] = m.num_tied_at_lowest_score;
    }
    if (m.num_tie_excused_expected + m.num_tie_excused_actual > 0) {
      image["num_tie_excused"] = {{"expected", m.num_tie_excused_expected},
                                  {"actual", m.num_tie_excused_actual}};
    }
    if (c.dense.compared) {
      image["sem_seg_argmax_agreement"] = c.dense.sem_seg_argmax_agreement;
    }
    if (c.dense.compared_segments) {
      const SegmentMatchReport& seg = c.dense.segments;
      image["panoptic_pixel_agreement"] = seg.pixel_agreement;
      image["segments"] = {{"ok", seg.ok},
                           {"identical", seg.identical},
                           {"num_expected", seg.num_expected},
                           {"num_actual", seg.num_actual},
                           {"num_agreeing", seg.num_agreeing},
                           {"agreeing_fraction", seg.fraction},
                           {"min_region_iou", seg.min_region_iou}};
      if (!seg.problems.empty()) image["segments"]["problems"] = FirstLines(seg.problems);
    }
    nlohmann::json fields = nlohmann::json::object();
    std::vector<FieldDiff> all = c.fields;
    all.insert(all.end(), c.dense.fields.begin(), c.dense.fields.end());
    for (const FieldDiff& f : all) {
      nlohmann::json fj = {{"identical", f.identical}, {"same_shape", f.same_shape}};
      if (f.same_shape) fj["max_abs_diff"] = f.max_abs_diff;
      fields[f.name] = fj;
    }
    image["fields"] = fields;
    if (!m.problems.empty()) image["problems"] = FirstLines(m.problems);
    if (!m.notes.empty()) image["notes"] = FirstLines(m.notes);
    list.push_back(image);
  }
  j["images"] = list;
  return j;
}

BatchComparison CompareResults(const std::string& name, const std::vector<ImageResult>& expected,
                               const std::vector<ImageResult>& actual,
                               const MatchOptions& options) {
  BatchComparison out;
  out.name = name;
  if (expected.size() != actual.size()) {
    out.error = absl::StrCat("expected results for ", expected.size(), " images, got ",
                             actual.size());
    return out;
  }
  out.ok = true;
  try {
    for (size_t i = 0; i < expected.size(); ++i) {
      const Instances& e = expected[i].instances;
      const Instances& a = actual[i].instances;
      ImageComparison c;
      c.expected_height = e.image_height;
      c.expected_width = e.image_width;
      c.actual_height = a.image_height;
      c.actual_width = a.image_width;
      c.match = MatchDetections(FromInstances(e), FromInstances(a), options);
      for (const auto& [field, tensor] : e.fields) {
        auto it = a.fields.find(field);
        if (it == a.fields.end()) {
          c.match.ok = false;
          c.match.problems.push_back(absl::StrCat("field '", field, "' is missing"));
          continue;
        }
        c.fields.push_back(DiffField(field, tensor, it->second));
      }
      c.dense = CompareDense(expected[i], actual[i], options);
      c.ok = c.match.ok && c.expected_height == c.actual_height &&
             c.expected_width == c.actual_width;
      if (c.dense.compared) {
        c.ok = c.ok && c.dense.sem_seg_argmax_agreement >= options.min_fraction &&
               (!c.dense.compared_segments || c.dense.segments.ok);
      }
      out.ok = out.ok && c.ok;
      out.images.push_back(std::move(c));
    }
  } catch (const std::exception& e) {
    out.ok = false;
    out.error = absl::StrCat("comparison failed: ", e.what());
  }
  return out;
}

nlohmann::json MatchOptionsToJson(const MatchOptions& o) {
  return {{"box_iou_gt", o.box_iou},     {"score_delta_lt", o.score_delta},
          {"mask_iou_gt", o.mask_iou},   {"keypoint_px_le", o.keypoint_px},
          {"min_fraction", o.min_fraction}, {"box_atol_px", o.box_atol_px},
          {"mask_pixel_floor", o.mask_pixel_floor}, {"excuse_exact_ties", o.excuse_exact_ties}};
}

}  // namespace d2x::verify
