#include "core/io/coco_results.h"

#include <ATen/ATen.h>

namespace d2x::io {

const std::vector<int64_t>& CocoCategoryIds() {
  static const auto* ids = new std::vector<int64_t>{
      1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21,
      22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
      46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65,
      67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90};
  return *ids;
}

std::vector<int64_t> EncodeRleCounts(const at::Tensor& mask) {
  // Column-major: walk x, then y.
  at::Tensor flat = mask.to(at::kBool).t().contiguous().reshape({-1});
  const bool* data = flat.data_ptr<bool>();
  const int64_t n = flat.numel();
  std::vector<int64_t> counts;
  bool current = false;
  int64_t run = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (data[i] != current) {
      counts.push_back(run);
      run = 0;
      current = data[i];
    }
    ++run;
  }
  counts.push_back(run);
  return counts;
}

void AppendCocoResults(const Instances& instances, int64_t image_id,
                       const CocoResultsOptions& options, nlohmann::json& out) {
  const int64_t n = instances.size();
  if (n == 0) return;
  auto field = [&](const char* name) {
    auto it = instances.fields.find(name);
    return it == instances.fields.end() ? at::Tensor() : it->second;
  };
  at::Tensor boxes = field("pred_boxes").to(at::kFloat).contiguous();
  at::Tensor scores = field("scores").to(at::kFloat).contiguous();
  at::Tensor classes = field("pred_classes").to(at::kLong).contiguous();
  at::Tensor masks = field("pred_masks");
  at::Tensor keypoints = field("pred_keypoints");
  if (keypoints.defined()) keypoints = keypoints.to(at::kFloat).contiguous();
  const auto& coco_ids = CocoCategoryIds();
  for (int64_t i = 0; i < n; ++i) {
    const float* b = boxes.data_ptr<float>() + 4 * i;
    int64_t category = classes.data_ptr<int64_t>()[i];
    if (options.coco_category_ids && category >= 0 &&
        category < static_cast<int64_t>(coco_ids.size())) {
      category = coco_ids[category];
    }
    nlohmann::json r = {{"image_id", image_id},
                        {"category_id", category},
                        {"bbox", {b[0], b[1], b[2] - b[0], b[3] - b[1]}},
                        {"score", scores.data_ptr<float>()[i]}};
    if (masks.defined()) {
      r["segmentation"] = {{"size", {masks.size(1), masks.size(2)}},
                           {"counts", EncodeRleCounts(masks[i])}};
    }
    if (keypoints.defined()) {
      std::vector<float> flat;
      const int64_t k = keypoints.size(1);
      const float* kp = keypoints.data_ptr<float>() + i * k * 3;
      for (int64_t j = 0; j < k; ++j) {
        flat.push_back(kp[3 * j] - 0.5f);
        flat.push_back(kp[3 * j + 1] - 0.5f);
        flat.push_back(kp[3 * j + 2]);
      }
      r["keypoints"] = flat;
    }
    out.push_back(std::move(r));
  }
}

}  // namespace d2x::io
