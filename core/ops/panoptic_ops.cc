// Semantic / panoptic post-processing of PanopticFPN as shape-generic ops:
//
// d2x::sem_seg_postprocess(logits [N, C, Hp, Wp], image_sizes, output_sizes) -> [N, C, Hm, Wm]:
//   detectron2's sem_seg_postprocess per image (crop to the image size, bilinear resize to its
//   output size, align_corners=False), each result at the top-left of a zero canvas of the batch's
//   largest output size.
// d2x::panoptic_combine(scores [D], classes [D], masks [D, Hm, Wm], batch_index [D],
//                       sem_seg [N, C, Hm, Wm], output_sizes, overlap_threshold,
//                       stuff_area_thresh, instances_score_thresh)
//   -> (panoptic_seg int32 [N, Hm, Wm], segments_info int64 [S, 5] (id, category_id, isthing,
//       area, instance_id; instance_id -1 for stuff), segments_score float32 [S] (0 for stuff),
//       num_segments int64 [N]):
//   combine_semantic_and_instance_outputs per image on its own output size, with instance ids
//   relative to the image's detections.
// sem_seg_postprocess repeats plugins/arch/panoptic_fpn/sem_seg_head.cc (SemSegPostprocess) per
// image; the combine step is CombineSemanticAndInstances (panoptic_combine.h), which the eager
// model runs too.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "core/ops/box_math.h"
#include "core/ops/panoptic_combine.h"

namespace d2x::ops {
namespace {

at::Tensor SemSegPostprocessKernel(const at::Tensor& logits, const at::Tensor& image_sizes,
                                   const at::Tensor& output_sizes) {
  constexpr const char* kOp = "d2x::sem_seg_postprocess";
  TORCH_CHECK(logits.dim() == 4, kOp, ": logits must be [N, C, H, W], got ", logits.sizes());
  const at::Tensor in_sizes = internal::CheckImageSizes(image_sizes, kOp, "image_sizes");
  const at::Tensor out_sizes = internal::CheckImageSizes(output_sizes, kOp, "output_sizes");
  const int64_t n = logits.size(0);
  TORCH_CHECK(in_sizes.size(0) == n && out_sizes.size(0) == n, kOp,
              ": image_sizes and output_sizes must have ", n, " rows");
  const int64_t* in_s = in_sizes.data_ptr<int64_t>();
  const int64_t* out_s = out_sizes.data_ptr<int64_t>();
  int64_t max_h = 0, max_w = 0;
  for (int64_t i = 0; i < n; ++i) {
    max_h = std::max(max_h, out_s[2 * i]);
    max_w = std::max(max_w, out_s[2 * i + 1]);
  }
  at::Tensor out = at::zeros({n, logits.size(1), max_h, max_w}, logits.options());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t h = in_s[2 * i], w = in_s[2 * i + 1];
    const int64_t oh = out_s[2 * i], ow = out_s[2 * i + 1];
    TORCH_CHECK(h > 0 && w > 0 && h <= logits.size(2) && w <= logits.size(3) && oh > 0 && ow > 0,
                kOp, ": bad sizes for image ", i);
    at::Tensor cropped =
        logits.select(0, i).slice(1, 0, h).slice(2, 0, w).expand({1, -1, -1, -1});
    at::Tensor resized =
        at::upsample_bilinear2d(cropped, {oh, ow}, /*align_corners=*/false, c10::nullopt,
                                c10::nullopt)
            .select(0, 0);
    out.select(0, i).slice(1, 0, oh).slice(2, 0, ow).copy_(resized);
  }
  return out;
}

}  // namespace

at::Tensor CombineSemanticAndInstances(const at::Tensor& scores, const at::Tensor& pred_classes,
                                       const at::Tensor& pred_masks,
                                       const at::Tensor& semantic_results,
                                       double overlap_threshold, double stuff_area_thresh,
                                       double instances_score_thresh,
                                       std::vector<PanopticSegmentRow>& segments) {
  constexpr const char* kWhat = "panoptic combine";
  TORCH_CHECK(semantic_results.dim() == 2, kWhat, ": semantic results must be [H, W], got ",
              semantic_results.sizes());
  const int64_t n = scores.size(0);
  TORCH_CHECK(pred_classes.size(0) == n && (n == 0 || pred_masks.size(0) == n), kWhat, ": ", n,
              " scores, ", pred_classes.size(0), " classes, ", pred_masks.size(0), " masks");
  at::Tensor panoptic_seg = at::zeros_like(semantic_results, at::kInt);
  int64_t current_segment_id = 0;
  if (n > 0) {
    TORCH_CHECK(pred_masks.dim() == 3 && pred_masks.size(1) == semantic_results.size(0) &&
                    pred_masks.size(2) == semantic_results.size(1),
                kWhat, ": masks ", pred_masks.sizes(), " vs semantic results ",
                semantic_results.sizes());
    at::Tensor sorted_inds = at::argsort(-scores);
    at::Tensor instance_masks = pred_masks.to(at::kBool);
    const at::Tensor scores_cpu = scores.to(at::kFloat).cpu();
    const at::Tensor classes_cpu = pred_classes.to(at::kLong).cpu();
    const at::Tensor order = sorted_inds.cpu();
    for (int64_t k = 0; k < n; ++k) {
      const int64_t inst_id = order[k].item<int64_t>();
      const double score = scores_cpu[inst_id].item<double>();
      if (score < instances_score_thresh) break;
      at::Tensor mask = instance_masks[inst_id];
      const int64_t mask_area = mask.sum().item<int64_t>();
      if (mask_area == 0) continue;
      const at::Tensor occupied = panoptic_seg > 0;
      const int64_t intersect_area = (mask & occupied).sum().item<int64_t>();
      if (static_cast<double>(intersect_area) * 1.0 / static_cast<double>(mask_area) >
          overlap_threshold) {
        continue;
      }
      if (intersect_area > 0) mask = mask & (panoptic_seg == 0);
      current_segment_id += 1;
      panoptic_seg.masked_fill_(mask, current_segment_id);
      segments.push_back({current_segment_id, classes_cpu[inst_id].item<int64_t>(),
                          /*isthing=*/true,
                          intersect_area > 0 ? mask.sum().item<int64_t>() : mask_area, inst_id,
                          static_cast<float>(score)});
    }
  }
  // Stuff: the remaining pixels of each semantic label (in increasing order; 0 = things).
  at::Tensor labels = std::get<0>(at::_unique(semantic_results, /*sorted=*/true)).cpu();
  labels = labels.to(at::kLong);
  for (int64_t k = 0; k < labels.size(0); ++k) {
    const int64_t label = labels[k].item<int64_t>();
    if (label == 0) continue;
    at::Tensor mask = (semantic_results == label) & (panoptic_seg == 0);
    const int64_t mask_area = mask.sum().item<int64_t>();
    if (static_cast<double>(mask_area) < stuff_area_thresh) continue;
    current_segment_id += 1;
    panoptic_seg.masked_fill_(mask, current_segment_id);
    segments.push_back({current_segment_id, label, /*isthing=*/false, mask_area, -1, 0.f});
  }
  return panoptic_seg;
}

namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> PanopticCombineKernel(
    const at::Tensor& scores, const at::Tensor& classes, const at::Tensor& masks,
    const at::Tensor& batch_index, const at::Tensor& sem_seg, const at::Tensor& output_sizes,
    double overlap_threshold, double stuff_area_thresh, double instances_score_thresh) {
  constexpr const char* kOp = "d2x::panoptic_combine";
  const int64_t d = scores.size(0);
  TORCH_CHECK(scores.dim() == 1 && classes.dim() == 1 && classes.size(0) == d &&
                  batch_index.dim() == 1 && batch_index.size(0) == d,
              kOp, ": scores, classes and batch_index must be [D]");
  TORCH_CHECK(masks.dim() == 3 && masks.size(0) == d, kOp, ": masks must be [", d,
              ", H, W], got ", masks.sizes());
  TORCH_CHECK(sem_seg.dim() == 4, kOp, ": sem_seg must be [N, C, H, W], got ", sem_seg.sizes());
  const at::Tensor sizes = internal::CheckImageSizes(output_sizes, kOp, "output_sizes");
  const int64_t n = sizes.size(0);
  TORCH_CHECK(sem_seg.size(0) == n, kOp, ": sem_seg has ", sem_seg.size(0), " images, ",
              "output_sizes ", n);
  const std::vector<int64_t> counts = internal::CountRowsPerImage(batch_index, n, kOp);
  const int64_t* s = sizes.data_ptr<int64_t>();
  at::Tensor panoptic = at::zeros({n, sem_seg.size(2), sem_seg.size(3)}, at::kInt);
  std::vector<PanopticSegmentRow> segments;
  std::vector<int64_t> num_segments(n, 0);
  int64_t start = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t h = s[2 * i], w = s[2 * i + 1];
    TORCH_CHECK(h <= sem_seg.size(2) && w <= sem_seg.size(3) &&
                    (counts[i] == 0 || (h <= masks.size(1) && w <= masks.size(2))),
                kOp, ": output size ", h, "x", w, " of image ", i, " exceeds the canvas");
    const at::Tensor semantic = sem_seg.select(0, i).slice(1, 0, h).slice(2, 0, w).argmax(0);
    const int64_t end = start + counts[i];
    const size_t before = segments.size();
    at::Tensor seg = CombineSemanticAndInstances(
        scores.slice(0, start, end), classes.slice(0, start, end),
        masks.slice(0, start, end).slice(1, 0, h).slice(2, 0, w), semantic, overlap_threshold,
        stuff_area_thresh, instances_score_thresh, segments);
    panoptic.select(0, i).slice(0, 0, h).slice(1, 0, w).copy_(seg);
    num_segments[i] = static_cast<int64_t>(segments.size() - before);
    start = end;
  }
  at::Tensor info = at::empty({static_cast<int64_t>(segments.size()), 5}, at::kLong);
  at::Tensor score = at::empty({static_cast<int64_t>(segments.size())}, at::kFloat);
  for (size_t k = 0; k < segments.size(); ++k) {
    int64_t* row = info.data_ptr<int64_t>() + 5 * k;
    row[0] = segments[k].id;
    row[1] = segments[k].category_id;
    row[2] = segments[k].isthing ? 1 : 0;
    row[3] = segments[k].area;
    row[4] = segments[k].instance_id;
    score.data_ptr<float>()[k] = segments[k].score;
  }
  return {panoptic, info, score, at::tensor(num_segments, at::kLong)};
}

}  // namespace

TORCH_LIBRARY_IMPL(d2x, CPU, m) {
  m.impl("sem_seg_postprocess", TORCH_FN(SemSegPostprocessKernel));
  m.impl("panoptic_combine", TORCH_FN(PanopticCombineKernel));
}

}  // namespace d2x::ops
