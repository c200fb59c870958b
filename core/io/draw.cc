#include "core/io/draw.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "opencv2/imgproc.hpp"

namespace d2x::io {
namespace {

// A fixed, well-spread palette (BGR).
cv::Scalar ColorFor(int64_t i) {
  static const int kPalette[][3] = {
      {0, 114, 189},  {217, 83, 25},  {237, 177, 32}, {126, 47, 142}, {119, 172, 48},
      {77, 190, 238}, {162, 20, 47},  {76, 76, 76},   {255, 0, 0},    {0, 170, 0},
      {0, 0, 255},    {255, 128, 0},  {170, 0, 255},  {0, 255, 255},  {255, 0, 170},
      {128, 128, 0},  {0, 128, 128},  {128, 0, 128},  {64, 192, 64},  {192, 64, 64}};
  const auto& c = kPalette[i % 20];
  return cv::Scalar(c[2], c[1], c[0]);
}

// COCO person skeleton (0-based keypoint indices).
const std::vector<std::pair<int, int>>& CocoSkeleton() {
  static const auto* skeleton = new std::vector<std::pair<int, int>>{
      {15, 13}, {13, 11}, {16, 14}, {14, 12}, {11, 12}, {5, 11}, {6, 12}, {5, 6},  {5, 7},
      {6, 8},   {7, 9},   {8, 10},  {1, 2},   {0, 1},   {0, 2},  {1, 3},  {2, 4},  {3, 5}, {4, 6}};
  return *skeleton;
}

at::Tensor FieldOr(const Instances& inst, const char* name) {
  auto it = inst.fields.find(name);
  return it == inst.fields.end() ? at::Tensor() : it->second;
}

void BlendLabelMap(cv::Mat& canvas, const at::Tensor& labels, double alpha) {
  at::Tensor map = labels.to(at::kLong).contiguous();
  const int64_t* ids = map.data_ptr<int64_t>();
  for (int y = 0; y < canvas.rows; ++y) {
    auto* row = canvas.ptr<cv::Vec3b>(y);
    for (int x = 0; x < canvas.cols; ++x) {
      const int64_t id = ids[static_cast<int64_t>(y) * canvas.cols + x];
      if (id < 0) continue;
      const cv::Scalar c = ColorFor(id);
      for (int ch = 0; ch < 3; ++ch) {
        row[x][ch] = cv::saturate_cast<uchar>((1 - alpha) * row[x][ch] + alpha * c[ch]);
      }
    }
  }
}

}  // namespace

absl::StatusOr<at::Tensor> DrawResult(const at::Tensor& image, const ImageResult& result,
                                      double min_score) {
  if (image.dim() != 3 || image.size(0) != 3 || image.scalar_type() != at::kByte) {
    return absl::InvalidArgumentError("DrawResult: expected a uint8 [3,H,W] image");
  }
  const int64_t h = image.size(1), w = image.size(2);
  at::Tensor hwc = image.permute({1, 2, 0}).contiguous();
  cv::Mat canvas(static_cast<int>(h), static_cast<int>(w), CV_8UC3);
  std::memcpy(canvas.data, hwc.data_ptr(), hwc.numel());

  auto check_size = [&](const at::Tensor& t, const char* what) -> absl::Status {
    if (t.size(-2) != h || t.size(-1) != w) {
      return absl::InvalidArgumentError(
          absl::StrCat("DrawResult: ", what, " is ", t.size(-2), "x", t.size(-1),
                       " but the image is ", h, "x", w));
    }
    return absl::OkStatus();
  };
  if (result.panoptic_seg.defined()) {
    if (auto s = check_size(result.panoptic_seg, "panoptic_seg"); !s.ok()) return s;
    // Segment id 0 is "unlabeled": leave it.
    BlendLabelMap(canvas, result.panoptic_seg.to(at::kLong) - 1, 0.5);
  } else if (result.sem_seg.defined()) {
    if (auto s = check_size(result.sem_seg, "sem_seg"); !s.ok()) return s;
    BlendLabelMap(canvas, result.sem_seg.argmax(0), 0.4);
  }

  Instances inst = result.instances;
  if (min_score > 0 && inst.fields.count("scores") && inst.size() > 0) {
    at::Tensor keep = inst.fields["scores"] >= min_score;
    for (auto& [name, value] : inst.fields) value = value.index({keep});
  }
  at::Tensor boxes = FieldOr(inst, "pred_boxes");
  at::Tensor scores = FieldOr(inst, "scores");
  at::Tensor classes = FieldOr(inst, "pred_classes");
  at::Tensor masks = result.panoptic_seg.defined() ? at::Tensor() : FieldOr(inst, "pred_masks");
  at::Tensor keypoints = FieldOr(inst, "pred_keypoints");
  const int64_t n = inst.size();
  if (masks.defined() && n > 0) {
    if (auto s = check_size(masks, "pred_masks"); !s.ok()) return s;
    at::Tensor m = masks.to(at::kBool).contiguous();
    for (int64_t i = 0; i < n; ++i) {
      const bool* mp = m[i].data_ptr<bool>();
      const cv::Scalar c = ColorFor(i);
      for (int y = 0; y < canvas.rows; ++y) {
        auto* row = canvas.ptr<cv::Vec3b>(y);
        for (int x = 0; x < canvas.cols; ++x) {
          if (!mp[static_cast<int64_t>(y) * w + x]) continue;
          for (int ch = 0; ch < 3; ++ch) {
            row[x][ch] = cv::saturate_cast<uchar>(0.5 * row[x][ch] + 0.5 * c[ch]);
          }
        }
      }
    }
  }
  if (boxes.defined() && n > 0) {
    at::Tensor b = boxes.to(at::kFloat).contiguous();
    at::Tensor sc = scores.defined() ? scores.to(at::kFloat).contiguous() : at::Tensor();
    at::Tensor cl = classes.defined() ? classes.to(at::kLong).contiguous() : at::Tensor();
    for (int64_t i = 0; i < n; ++i) {
      const float* p = b.data_ptr<float>() + 4 * i;
      const cv::Scalar c = ColorFor(i);
      cv::rectangle(canvas, cv::Point2f(p[0], p[1]), cv::Point2f(p[2], p[3]), c, 1,
                    cv::LINE_AA);
      std::string label;
      if (cl.defined()) label = std::to_string(cl.data_ptr<int64_t>()[i]);
      if (sc.defined()) {
        char buf[16];
        std::snprintf(buf, sizeof(buf), " %.2f", sc.data_ptr<float>()[i]);
        label += buf;
      }
      if (!label.empty()) {
        int baseline = 0;
        const cv::Size ts = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, 0.35, 1, &baseline);
        const cv::Point org(static_cast<int>(p[0]), std::max(static_cast<int>(p[1]), ts.height + 1));
        cv::rectangle(canvas, org + cv::Point(0, baseline - ts.height - 2),
                      org + cv::Point(ts.width, baseline), c, cv::FILLED);
        cv::putText(canvas, label, org - cv::Point(0, 1), cv::FONT_HERSHEY_SIMPLEX, 0.35,
                    cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
      }
    }
  }
  if (keypoints.defined() && n > 0) {
    at::Tensor k = keypoints.to(at::kFloat).contiguous();
    const int64_t num_kp = k.size(1);
    for (int64_t i = 0; i < n; ++i) {
      const float* kp = k.data_ptr<float>() + i * num_kp * 3;
      const cv::Scalar c = ColorFor(i);
      if (num_kp == 17) {
        for (const auto& [a, b2] : CocoSkeleton()) {
          cv::line(canvas, cv::Point2f(kp[3 * a], kp[3 * a + 1]),
                   cv::Point2f(kp[3 * b2], kp[3 * b2 + 1]), c, 1, cv::LINE_AA);
        }
      }
      for (int64_t j = 0; j < num_kp; ++j) {
        cv::circle(canvas, cv::Point2f(kp[3 * j], kp[3 * j + 1]), 2, c, cv::FILLED, cv::LINE_AA);
      }
    }
  }
  at::Tensor out = at::from_blob(canvas.data, {h, w, 3}, at::kByte).clone();
  return out.permute({2, 0, 1}).contiguous();
}

}  // namespace d2x::io
