#include "tests/parity_dense/panoptic_match.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace d2x::parity {

std::string PanopticMatch::Summary() const {
  std::string s = absl::StrFormat(
      "%s: pixel agreement %.6f; segments expected %d, actual %d, agreeing %d; max thing |score "
      "delta| %.3g, max stuff |area delta| / area %.3g",
      segments_ok ? "segments OK" : "segments MISMATCH", pixel_agreement, num_expected_segments,
      num_actual_segments, num_agreeing_segments, max_score_delta, max_stuff_area_rel);
  for (const std::string& p : problems) absl::StrAppend(&s, "\n  ", p);
  return s;
}

PanopticMatch MatchPanoptic(const at::Tensor& expected_seg,
                            const std::vector<PanopticSegment>& expected_segments,
                            const at::Tensor& actual_seg,
                            const std::vector<PanopticSegment>& actual_segments,
                            double max_score_delta) {
  PanopticMatch m;
  m.num_expected_segments = static_cast<int64_t>(expected_segments.size());
  m.num_actual_segments = static_cast<int64_t>(actual_segments.size());
  if (!expected_seg.defined() || !actual_seg.defined() ||
      expected_seg.sizes() != actual_seg.sizes()) {
    m.problems.push_back("panoptic maps undefined or of different shapes");
    return m;
  }
  at::Tensor e = expected_seg.to(at::kLong).flatten();
  at::Tensor a = actual_seg.to(at::kLong).flatten();
  const int64_t ne = e.max().item<int64_t>() + 1;
  const int64_t na = a.max().item<int64_t>() + 1;
  // overlap[a_id, e_id]
  at::Tensor overlap = at::bincount(a * ne + e, {}, na * ne).reshape({na, ne});
  at::Tensor best = overlap.argmax(1);  // per actual id
  best[0] = 0;
  at::Tensor mapped = best.index({a});
  m.pixel_agreement = mapped.eq(e).to(at::kDouble).mean().item<double>();

  std::map<int64_t, const PanopticSegment*> actual_by_id;
  for (const PanopticSegment& s : actual_segments) actual_by_id[s.id] = &s;
  // expected id -> actual segments mapped to it
  std::map<int64_t, std::vector<const PanopticSegment*>> mapped_to;
  for (const PanopticSegment& s : actual_segments) {
    if (s.id <= 0 || s.id >= na) {
      m.problems.push_back(absl::StrCat("actual segment ", s.id, " has no pixels"));
      continue;
    }
    mapped_to[best[s.id].item<int64_t>()].push_back(&s);
  }
  for (const PanopticSegment& ex : expected_segments) {
    auto it = mapped_to.find(ex.id);
    if (it == mapped_to.end()) {
      m.problems.push_back(absl::StrCat("expected segment ", ex.id, " (category ", ex.category_id,
                                        ex.isthing ? ", thing" : ", stuff",
                                        ") has no actual segment mapped to it"));
      continue;
    }
    if (it->second.size() != 1) {
      m.problems.push_back(absl::StrCat("expected segment ", ex.id, " has ", it->second.size(),
                                        " actual segments mapped to it"));
      continue;
    }
    const PanopticSegment& ac = *it->second[0];
    bool ok = ac.isthing == ex.isthing && ac.category_id == ex.category_id;
    if (ex.isthing) {
      const double d = std::abs(static_cast<double>(ac.score) - static_cast<double>(ex.score));
      m.max_score_delta = std::max(m.max_score_delta, d);
      ok = ok && d < max_score_delta;
    } else if (ex.area > 0) {
      m.max_stuff_area_rel = std::max(
          m.max_stuff_area_rel,
          std::abs(static_cast<double>(ac.area - ex.area)) / static_cast<double>(ex.area));
    }
    if (ok) {
      ++m.num_agreeing_segments;
    } else {
      m.problems.push_back(absl::StrFormat(
          "expected segment %d (category %d, %s, score %.5f) vs actual %d (category %d, %s, score "
          "%.5f)",
          ex.id, ex.category_id, ex.isthing ? "thing" : "stuff", ex.score, ac.id, ac.category_id,
          ac.isthing ? "thing" : "stuff", ac.score));
    }
  }
  m.segments_ok = m.problems.empty() && m.num_agreeing_segments == m.num_expected_segments &&
                  m.num_actual_segments == m.num_expected_segments;
  return m;
}

}  // namespace d2x::parity
