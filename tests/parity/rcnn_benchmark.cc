// Eager inference time of the fixtures' R-CNN models (median of N runs per image), next to
// detectron2's own eager time from the fixtures' manifests.
//   bazel run //tests/parity:rcnn_benchmark -- [runs]   (D2X_FIXTURES_DIR must be set)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "core/io/image.h"
#include "core/ops/detection_ops.h"
#include "core/testing/fixtures.h"
#include "plugins/arch/rcnn/keypoint_head.h"
#include "plugins/arch/rcnn/mask_head.h"
#include "tests/parity/rcnn_fixture_model.h"

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 5;
  for (const std::string arch : {"faster_rcnn", "mask_rcnn", "keypoint_rcnn"}) {
    auto model = d2x::parity::BuildFixtureModel(arch);
    if (!model.ok()) {
      std::cerr << model.status() << "\n";
      return 1;
    }
    std::vector<d2x::ImageInput> both;
    for (const std::string key : {"256x320", "200x296"}) {
      auto path = d2x::testing::FixturePath(arch, "input_" + key + ".png");
      auto image = path.ok() ? d2x::io::ReadImage(*path, "BGR") : path.status();
      if (!image.ok()) {
        std::cerr << image.status() << "\n";
        return 1;
      }
      d2x::ImageInput input;
      input.image = *image;
      both.push_back(input);
      (void)(*model)->Inference({input});  // warm-up
      std::vector<double> times;
      for (int i = 0; i < runs; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        auto r = (*model)->Inference({input});
        auto t1 = std::chrono::steady_clock::now();
        if (!r.ok()) {
          std::cerr << r.status() << "\n";
          return 1;
        }
        times.push_back(std::chrono::duration<double>(t1 - t0).count());
      }
      std::sort(times.begin(), times.end());
      std::cout << arch << " " << key << ": median " << times[times.size() / 2] * 1e3
                << " ms over " << runs << " runs (threads " << at::get_num_threads() << ")\n";
    }
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto r = (*model)->Inference(both);
      times.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    std::cout << arch << " batch of both: median " << times[times.size() / 2] * 1e3 << " ms\n";
  }
  // Post-processing alone on detectron2's tensors.
  auto raw = d2x::testing::LoadFixtureTensor("mask_rcnn", "256x320.raw.pred_masks");
  auto boxes = d2x::testing::LoadFixtureTensor("mask_rcnn", "256x320.pred_boxes");
  if (raw.ok() && boxes.ok()) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i) d2x::rcnn::PasteMasksInImage(raw->select(1, 0), *boxes, 256, 320);
    std::cout << "paste 100 masks 256x320: "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                     runs * 1e3
              << " ms\n";
    at::Tensor maps = at::randn({100, 17, 56, 56});
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i) d2x::ops::HeatmapsToKeypoints(maps, *boxes);
    std::cout << "heatmaps_to_keypoints 100 ROIs: "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                     runs * 1e3
              << " ms\n";
  }
  return 0;
}
