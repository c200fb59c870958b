#include "core/verify/panoptic_match.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace d2x::verify {
namespace {

bool SameSegments(const std::vector<PanopticSegment>& a, const std::vector<PanopticSegment>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k].id != b[k].id || a[k].category_id != b[k].category_id ||
        a[k].isthing != b[k].isthing || a[k].area != b[k].area ||
        a[k].instance_id != b[k].instance_id) {
      return false;
    }
  }
  return true;
}

// The detection a thing segment comes from.
struct Detection {
  at::Tensor box;  // [1, 4]
  int64_t cls = -1;
  double score = 0;
};

// Fills `d` with the detection a thing segment comes from; false when its instance_id names none.
bool FindDetection(const ImageResult& r, const PanopticSegment& s, Detection* d) {
  const auto boxes = r.instances.fields.find("pred_boxes");
  const auto classes = r.instances.fields.find("pred_classes");
  const auto scores = r.instances.fields.find("scores");
  if (boxes == r.instances.fields.end() || classes == r.instances.fields.end() ||
      scores == r.instances.fields.end() || s.instance_id < 0 ||
      s.instance_id >= boxes->second.size(0)) {
    return false;
  }
  d->box = boxes->second.slice(0, s.instance_id, s.instance_id + 1);
  d->cls = classes->second[s.instance_id].item<int64_t>();
  d->score = scores->second[s.instance_id].item<double>();
  return true;
}

// Why a matched pair disagrees ("" when it agrees).
std::string Disagreement(const ImageResult& e, const PanopticSegment& x, const ImageResult& a,
                         const PanopticSegment& y, int64_t inter, int64_t uni,
                         const MatchOptions& options) {
  if (x.category_id != y.category_id || x.isthing != y.isthing) {
    return absl::StrCat("category ", y.category_id, y.isthing ? " (thing)" : " (stuff)",
                        " instead of ", x.category_id, x.isthing ? " (thing)" : " (stuff)");
  }
  if (RegionAgreement(inter, uni, options) == Agreement::kNo) {
    return absl::StrFormat("region IoU %.4f (areas %d / %d)",
                           static_cast<double>(inter) / static_cast<double>(uni), x.area, y.area);
  }
  if (!x.isthing) return "";
  Detection dx, dy;
  if (!FindDetection(e, x, &dx) || !FindDetection(a, y, &dy)) {
    return absl::StrCat("instance_id ", x.instance_id, " / ", y.instance_id,
                        " names no detection");
  }
  const double box_iou = PairwiseBoxIou(dx.box, dy.box).item<double>();
  if (dx.cls != dy.cls || BoxAgreement(dx.box[0], dy.box[0], box_iou, options) == Agreement::kNo ||
      !(std::abs(dx.score - dy.score) < options.score_delta)) {
    return absl::StrFormat("detection class %d / %d, box IoU %.6f, score %.6f / %.6f", dx.cls,
                           dy.cls, box_iou, dx.score, dy.score);
  }
  return "";
}

}  // namespace

std::string SegmentMatchReport::Summary() const {
  std::string s = absl::StrFormat(
      "%s: segments expected %d, actual %d, matched %d, agreeing %d (%.2f%%), worst region IoU "
      "%.6f, pixel agreement %.6f%s",
      ok ? "OK" : "MISMATCH", num_expected, num_actual, num_matched, num_agreeing,
      100.0 * fraction, min_region_iou, pixel_agreement, identical ? " (identical)" : "");
  for (const std::string& p : problems) absl::StrAppend(&s, "\n  ", p);
  return s;
}

SegmentMatchReport MatchSegments(const ImageResult& expected, const ImageResult& actual,
                                 const MatchOptions& options) {
  SegmentMatchReport r;
  r.num_expected = static_cast<int64_t>(expected.segments_info.size());
  r.num_actual = static_cast<int64_t>(actual.segments_info.size());
  if (!expected.panoptic_seg.defined() || !actual.panoptic_seg.defined() ||
      expected.panoptic_seg.sizes() != actual.panoptic_seg.sizes()) {
    r.fraction = 0;
    r.pixel_agreement = 0;
    r.problems.push_back("panoptic_seg missing or of another shape");
    return r;
  }
  const at::Tensor pe = expected.panoptic_seg.to(at::kLong).reshape(-1);
  const at::Tensor pa = actual.panoptic_seg.to(at::kLong).reshape(-1);
  const int64_t num_pixels = pe.numel();
  r.identical = at::equal(pe, pa) && SameSegments(expected.segments_info, actual.segments_info);
  const int64_t me = num_pixels ? pe.max().item<int64_t>() + 1 : 1;
  const int64_t ma = num_pixels ? pa.max().item<int64_t>() + 1 : 1;
  if ((num_pixels && (pe.min().item<int64_t>() < 0 || pa.min().item<int64_t>() < 0)) ||
      me * ma > (int64_t{1} << 26)) {
    r.fraction = 0;
    r.pixel_agreement = 0;
    r.problems.push_back("panoptic_seg has negative or implausibly large segment ids");
    return r;
  }
  // overlap[i][j]: pixels of expected id i and actual id j.
  const at::Tensor joint = at::bincount(pe * ma + pa, {}, me * ma).view({me, ma}).contiguous();
  const int64_t* overlap = joint.data_ptr<int64_t>();
  std::vector<int64_t> area_e(me, 0), area_a(ma, 0);
  for (int64_t i = 0; i < me; ++i) {
    for (int64_t j = 0; j < ma; ++j) {
      area_e[i] += overlap[i * ma + j];
      area_a[j] += overlap[i * ma + j];
    }
  }
  std::map<int64_t, const PanopticSegment*> actual_by_id;
  for (const PanopticSegment& s : actual.segments_info) actual_by_id[s.id] = &s;

  // Expected segments, largest first; each takes the unmatched actual segment it overlaps most.
  std::vector<const PanopticSegment*> order;
  for (const PanopticSegment& s : expected.segments_info) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(),
                   [](const PanopticSegment* a, const PanopticSegment* b) {
                     return a->area > b->area;
                   });
  std::vector<int64_t> matched_to(ma, -1);  // actual id -> expected id; -1 = not matched yet
  if (ma > 0) matched_to[0] = 0;            // void matches void
  for (const PanopticSegment* x : order) {
    int64_t best = -1, best_overlap = 0;
    if (x->id > 0 && x->id < me) {
      for (const auto& [id, y] : actual_by_id) {
        if (id <= 0 || id >= ma || matched_to[id] >= 0) continue;
        const int64_t o = overlap[x->id * ma + id];
        if (o > best_overlap) {
          best = id;
          best_overlap = o;
        }
      }
    }
    if (best < 0) {
      r.problems.push_back(absl::StrCat("expected segment ", x->id, " (category ",
                                        x->category_id, ", area ", x->area,
                                        ") has no overlapping actual segment"));
      continue;
    }
    matched_to[best] = x->id;
    ++r.num_matched;
    const PanopticSegment& y = *actual_by_id.at(best);
    const int64_t uni = area_e[x->id] + area_a[best] - best_overlap;
    r.min_region_iou = std::min(
        r.min_region_iou, static_cast<double>(best_overlap) / static_cast<double>(uni));
    std::string why = Disagreement(expected, *x, actual, y, best_overlap, uni, options);
    if (why.empty() && (x->area != area_e[x->id] || y.area != area_a[best])) {
      why = absl::StrCat("segments_info area ", x->area, " / ", y.area, " but the regions have ",
                         area_e[x->id], " / ", area_a[best], " pixels");
    }
    if (why.empty()) {
      ++r.num_agreeing;
    } else {
      r.problems.push_back(absl::StrCat("segment ", x->id, " -> ", best, ": ", why));
    }
  }
  for (const auto& [id, y] : actual_by_id) {
    if (id <= 0 || id >= ma || matched_to[id] < 0) {
      r.problems.push_back(absl::StrCat("actual segment ", id, " (category ", y->category_id,
                                        ") matches no expected segment"));
    }
  }
  const int64_t denom = std::max(r.num_expected, r.num_actual);
  r.fraction = denom == 0 ? 1.0 : static_cast<double>(r.num_agreeing) / denom;
  // Pixel agreement: actual ids renamed to their matched expected ids.
  int64_t agreeing_pixels = 0;
  for (int64_t j = 0; j < ma; ++j) {
    if (matched_to[j] >= 0) agreeing_pixels += overlap[matched_to[j] * ma + j];
  }
  r.pixel_agreement = num_pixels == 0 ? 1.0 : static_cast<double>(agreeing_pixels) / num_pixels;
  r.ok = r.fraction >= options.min_fraction && r.pixel_agreement >= options.min_fraction;
  return r;
}

}  // namespace d2x::verify
