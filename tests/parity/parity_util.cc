#include "tests/parity/parity_util.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "core/testing/fixtures.h"

namespace d2x::parity {

const std::vector<std::string>& ImageKeys() {
  static const auto* keys = new std::vector<std::string>{"256x320", "200x296"};
  return *keys;
}

std::array<int64_t, 2> ImageSizeOf(const std::string& key) {
  const size_t x = key.find('x');
  return {std::stoll(key.substr(0, x)), std::stoll(key.substr(x + 1))};
}

at::Tensor Fixture(const std::string& arch, const std::string& name) {
  absl::StatusOr<at::Tensor> t = testing::LoadFixtureTensor(arch, name);
  if (!t.ok()) {
    ADD_FAILURE() << arch << "/" << name << ": " << t.status();
    return at::Tensor();
  }
  return *t;
}

Closeness CompareTensors(const at::Tensor& actual_in, const at::Tensor& expected_in, double rtol,
                         double atol) {
  Closeness c;
  if (!actual_in.defined() || !expected_in.defined()) {
    c.message = "undefined tensor";
    return c;
  }
  if (actual_in.sizes() != expected_in.sizes()) {
    c.message = absl::StrFormat("shape mismatch: actual %s vs expected %s",
                                c10::str(actual_in.sizes()), c10::str(expected_in.sizes()));
    return c;
  }
  at::Tensor a = actual_in.to(at::kDouble), e = expected_in.to(at::kDouble);
  at::Tensor diff = (a - e).abs();
  const double scale = e.numel() ? e.abs().max().item<double>() : 0.0;
  c.max_abs = diff.numel() ? diff.max().item<double>() : 0.0;
  c.max_rel = scale > 0 ? c.max_abs / scale : c.max_abs;
  at::Tensor bad = diff > (atol + rtol * e.abs());
  const int64_t num_bad = bad.sum().item<int64_t>();
  c.ok = num_bad == 0;
  c.message = absl::StrFormat("%d of %d elements out of tolerance (rtol %g, atol %g); max |diff| "
                              "%.3g, max |diff| / max |expected| %.3g",
                              num_bad, e.numel(), rtol, atol, c.max_abs, c.max_rel);
  if (num_bad > 0) {
    at::Tensor idx = bad.flatten().nonzero().select(1, 0).slice(0, 0, 5);
    for (int64_t k = 0; k < idx.size(0); ++k) {
      const int64_t i = idx[k].item<int64_t>();
      absl::StrAppendFormat(&c.message, "\n  flat[%d]: actual %.8g expected %.8g", i,
                            a.flatten()[i].item<double>(), e.flatten()[i].item<double>());
    }
  }
  return c;
}

verify::DetectionSet FixtureDetections(const std::string& arch, const std::string& key) {
  verify::DetectionSet set;
  set.boxes = Fixture(arch, key + ".pred_boxes");
  set.scores = Fixture(arch, key + ".scores");
  set.classes = Fixture(arch, key + ".pred_classes");
  absl::StatusOr<std::vector<std::string>> names = testing::FixtureTensorNames(arch);
  if (names.ok()) {
    auto has = [&](const std::string& n) {
      return std::find(names->begin(), names->end(), n) != names->end();
    };
    if (has(key + ".pred_masks")) set.masks = Fixture(arch, key + ".pred_masks");
    if (has(key + ".pred_keypoints")) set.keypoints = Fixture(arch, key + ".pred_keypoints");
  }
  return set;
}

}  // namespace d2x::parity
