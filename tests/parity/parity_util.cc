#include "tests/parity/parity_util.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "core/io/image.h"
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

void ExpectScaledClose(const std::string& what, const at::Tensor& actual,
                       const at::Tensor& expected, double rel_tol) {
  ASSERT_TRUE(actual.defined() && expected.defined()) << what;
  const double scale = expected.abs().max().item<double>();
  Closeness c = CompareTensors(actual, expected, 0.0, rel_tol * scale);
  std::cout << "  " << what << ": max |diff| " << c.max_abs << " (" << c.max_rel
            << " of max |expected| " << scale << ")\n";
  EXPECT_TRUE(c.ok) << what << ": " << c.message;
}

std::map<std::string, at::Tensor> FixtureFeatures(const std::string& arch,
                                                  const std::string& key,
                                                  const std::vector<std::string>& levels) {
  std::map<std::string, at::Tensor> features;
  for (const std::string& level : levels) {
    features[level] = Fixture(arch, key + ".features." + level);
  }
  return features;
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

ImageResult FixturePanopticResult(const std::string& arch, const std::string& key) {
  ImageResult r;
  const verify::DetectionSet d = FixtureDetections(arch, key);
  const std::array<int64_t, 2> size = ImageSizeOf(key);
  r.instances.image_height = size[0];
  r.instances.image_width = size[1];
  r.instances.fields["pred_boxes"] = d.boxes;
  r.instances.fields["scores"] = d.scores;
  r.instances.fields["pred_classes"] = d.classes;
  if (d.masks.defined()) r.instances.fields["pred_masks"] = d.masks;
  r.panoptic_seg = Fixture(arch, key + ".panoptic_seg");
  absl::StatusOr<std::string> path = testing::FixturePath(arch, key + ".segments_info.json");
  if (!path.ok() || !r.panoptic_seg.defined()) {
    ADD_FAILURE() << (path.ok() ? "no panoptic_seg" : path.status().ToString());
    return r;
  }
  std::ifstream in(*path);
  const nlohmann::json segments = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!segments.is_array()) {
    ADD_FAILURE() << *path << ": expected a JSON array of segments";
    return r;
  }
  for (const nlohmann::json& s : segments) {
    PanopticSegment seg;
    seg.id = s.at("id").get<int32_t>();
    seg.isthing = s.at("isthing").get<bool>();
    seg.category_id = s.at("category_id").get<int64_t>();
    if (seg.isthing) {
      seg.score = s.at("score").get<float>();
      seg.instance_id = s.at("instance_id").get<int64_t>();
      seg.area = r.panoptic_seg.eq(seg.id).sum().item<int64_t>();
    } else {
      seg.area = s.at("area").get<int64_t>();
    }
    r.segments_info.push_back(seg);
  }
  return r;
}

ImageInput PngInput(const absl::StatusOr<std::string>& path) {
  ImageInput input;
  if (!path.ok()) {
    ADD_FAILURE() << path.status();
    return input;
  }
  absl::StatusOr<at::Tensor> image = io::ReadImage(*path, "BGR");
  EXPECT_TRUE(image.ok()) << image.status();
  if (image.ok()) input.image = *image;
  return input;
}

ImageInput FixtureImageInput(const std::string& arch, const std::string& key) {
  return PngInput(testing::FixturePath(arch, "input_" + key + ".png"));
}

}  // namespace d2x::parity
