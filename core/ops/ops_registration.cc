// The d2x operator namespace: every schema, in the only TORCH_LIBRARY(d2x) block.
// Kernels live next to their implementation (TORCH_LIBRARY_IMPL(d2x, CPU, m) in roi_align.cc,
// nms.cc, ...). Keep these in sync with the typed wrappers in ops.h.
#include <torch/library.h>

TORCH_LIBRARY(d2x, m) {
  m.def(
      "roi_align(Tensor input, Tensor rois, float spatial_scale, int pooled_height, "
      "int pooled_width, int sampling_ratio, bool aligned) -> Tensor");
  m.def("nms(Tensor boxes, Tensor scores, float iou_threshold) -> Tensor");
  m.def("batched_nms(Tensor boxes, Tensor scores, Tensor idxs, float iou_threshold) -> Tensor");
}
