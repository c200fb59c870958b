// Times d2x's ops against torchvision's CPU kernels (dlopen'ed) and prints a table.
//
//   bazel run //core/ops:ops_benchmark [-- --threads=N --reps=N --layouts]
//
// --layouts adds a table of roi_align's two code paths (NCHW gather vs NHWC vectorized) by ROI
// count, to tune kChannelsLastMinTapsPerPixel in roi_align.cc.
//
// batched_nms is compared with torchvision.ops.batched_nms's algorithm written with ATen calls on
// top of torchvision::nms (no Python interpreter overhead).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/ops/ops.h"
#include "core/ops/roi_align_layout.h"
#include "core/ops/torchvision_reference.h"

namespace {

// Median wall time in milliseconds of `reps` runs after one warm-up run.
double MedianMs(int reps, const std::function<at::Tensor()>& fn) {
  fn();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void Row(const std::string& op, const std::string& config, int reps,
         const std::function<at::Tensor()>& ours, const std::function<at::Tensor()>& theirs) {
  const bool same = d2x::ops::reference::BitwiseEqual(ours(), theirs());
  const double ours_ms = MedianMs(reps, ours);
  const double theirs_ms = MedianMs(reps, theirs);
  std::printf("| %-12s | %-46s | %9.3f | %11.3f | %6.2fx | %-9s |\n", op.c_str(), config.c_str(),
              ours_ms, theirs_ms, theirs_ms / ours_ms, same ? "yes" : "NO");
}

struct Detections {
  at::Tensor boxes, scores, idxs;
};

Detections RandomDetections(int64_t n, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const at::Tensor xy = at::rand({n, 2}, gen, at::kFloat) * 1000;
  const at::Tensor wh = at::rand({n, 2}, gen, at::kFloat) * 200 + 4;
  return {at::cat({xy, xy + wh}, 1), at::rand({n}, gen, at::kFloat),
          at::randint(0, 80, {n}, gen, at::kLong)};
}

void LayoutTable(int reps) {
  using d2x::ops::RoiAlignLayout;
  using d2x::ops::SetRoiAlignLayoutForTesting;
  std::printf(
      "\nroi_align code paths, 256x200x272 input (54400 pixels), 7x7, sr 0, rois 16-112px\n"
      "| rois | taps/pixel | NCHW gather ms | NHWC (incl. transpose) ms | auto ms |\n"
      "|------|------------|----------------|---------------------------|---------|\n");
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor features = at::randn({1, 256, 200, 272}, gen, at::kFloat);
  for (int64_t k : {1, 5, 20, 50, 100, 300, 1000}) {
    const at::Tensor xy = at::rand({k, 2}, gen, at::kFloat) * 700;
    const at::Tensor rois =
        at::cat({at::zeros({k, 1}), xy, xy + at::rand({k, 2}, gen, at::kFloat) * 96 + 16}, 1);
    const auto run = [&] { return d2x::ops::RoiAlign(features, rois, 0.25, 7, 7, 0, true); };
    // Taps as the kernel counts them.
    const at::Tensor extent = (rois.slice(1, 3, 5) - rois.slice(1, 1, 3)) * 0.25;
    const double taps = (extent / 7).ceil().prod(1).sum().item<double>() * 49;
    SetRoiAlignLayoutForTesting(RoiAlignLayout::kPlanar);
    const double planar = MedianMs(reps, run);
    SetRoiAlignLayoutForTesting(RoiAlignLayout::kChannelsLast);
    const double channels_last = MedianMs(reps, run);
    SetRoiAlignLayoutForTesting(RoiAlignLayout::kAuto);
    const double automatic = MedianMs(reps, run);
    std::printf("| %4ld | %10.3f | %14.3f | %25.3f | %7.3f |\n", static_cast<long>(k),
                taps / (200 * 272), planar, channels_last, automatic);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  int reps = 10;
  bool layouts = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
    if (std::strncmp(argv[i], "--reps=", 7) == 0) reps = std::max(1, std::atoi(argv[i] + 7));
    if (std::strcmp(argv[i], "--layouts") == 0) layouts = true;
  }
  if (threads > 0) at::set_num_threads(threads);
  const absl::Status loaded = d2x::ops::reference::LoadTorchvision();
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.ToString().c_str());
    return 1;
  }
  namespace ref = d2x::ops::reference;
  using d2x::ops::BatchedNms;
  using d2x::ops::Nms;
  using d2x::ops::RoiAlign;

  std::printf(
      "d2x ops vs torchvision 0.14 CPU kernels: median of %d runs, at::get_num_threads()=%d"
      " (torchvision's roi_align and nms are single-threaded)\n\n",
      reps, at::get_num_threads());
  std::printf("| %-12s | %-46s | %9s | %11s | %7s | %-9s |\n", "op", "config", "d2x ms",
              "torchvision", "speedup", "identical");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(14, '-').c_str(), std::string(48, '-').c_str(),
              std::string(11, '-').c_str(), std::string(13, '-').c_str(),
              std::string(9, '-').c_str(), std::string(11, '-').c_str());

  {
    // One FPN level (P2 of an 800x1088 image). detectron2 assigns boxes of 16-112 px to P2; the
    // large-box row shows the cost of big adaptive grids (up to 77x77 feature pixels).
    at::Generator gen = at::detail::createCPUGenerator(1);
    const at::Tensor features = at::randn({1, 256, 200, 272}, gen, at::kFloat);
    const at::Tensor xy = at::rand({1000, 2}, gen, at::kFloat) * 700;
    const at::Tensor p2_rois =
        at::cat({at::zeros({1000, 1}), xy, xy + at::rand({1000, 2}, gen, at::kFloat) * 96 + 16}, 1);
    const at::Tensor large_rois =
        at::cat({at::zeros({1000, 1}), xy, xy + at::rand({1000, 2}, gen, at::kFloat) * 300 + 8}, 1);
    for (const auto& [rois, sizes] :
         {std::pair<at::Tensor, std::string>{p2_rois, "16-112px"}, {large_rois, "8-308px"}}) {
      for (int64_t sampling_ratio : {0, 2}) {
        const std::string config =
            "1000 rois " + sizes + ", 256x200x272, 7x7, 1/4, sr " + std::to_string(sampling_ratio);
        Row(
            "roi_align", config, reps,
            [&] { return RoiAlign(features, rois, 0.25, 7, 7, sampling_ratio, true); },
            [&] { return ref::RoiAlign(features, rois, 0.25, 7, 7, sampling_ratio, true); });
      }
    }
  }
  for (int64_t n : {1000, 5000}) {
    const Detections d = RandomDetections(n, 2 + n);
    for (double iou : {0.5, 0.7}) {
      const std::string config =
          std::to_string(n) + " boxes, iou " + std::to_string(iou).substr(0, 3);
      Row(
          "nms", config, reps, [&] { return Nms(d.boxes, d.scores, iou); },
          [&] { return ref::Nms(d.boxes, d.scores, iou); });
    }
  }
  for (int64_t n : {1000, 5000}) {
    const Detections d = RandomDetections(n, 3 + n);
    const std::string config = std::to_string(n) + " boxes, 80 classes, iou 0.5" +
                               (n * 4 > 4000 ? " (per class)" : " (offsets)");
    Row(
        "batched_nms", config, reps, [&] { return BatchedNms(d.boxes, d.scores, d.idxs, 0.5); },
        [&] { return ref::BatchedNms(d.boxes, d.scores, d.idxs, 0.5); });
  }
  if (layouts) LayoutTable(reps);
  return 0;
}
