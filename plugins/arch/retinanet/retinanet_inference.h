// RetinaNet's inference on the head outputs, as detectron2's RetinaNet.forward_inference /
// inference_single_image and DenseDetector._decode_per_level_predictions /
// _decode_multi_level_predictions (detectron2/modeling/meta_arch/{retinanet,dense_detector}.py).
// The per-level and per-image steps are ops::internal::DecodePerLevel / DenseInferenceSingleImage
// (core/ops/box_math.h), which the exported graphs' d2x::dense_detections runs too.
#ifndef D2X_PLUGINS_ARCH_RETINANET_RETINANET_INFERENCE_H_
#define D2X_PLUGINS_ARCH_RETINANET_RETINANET_INFERENCE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "core/modeling/box2box_transform.h"
#include "core/structures/image_list.h"

namespace d2x::retinanet {

struct RetinaNetInferenceOptions {
  double score_thresh = 0.05;        // MODEL.RETINANET.SCORE_THRESH_TEST
  int64_t topk_candidates = 1000;    // MODEL.RETINANET.TOPK_CANDIDATES_TEST (per level)
  double nms_thresh = 0.5;           // MODEL.RETINANET.NMS_THRESH_TEST
  int64_t max_detections = 100;      // TEST.DETECTIONS_PER_IMAGE
};

// One image's detections in the coordinates of the (unpadded) image the model saw.
struct DenseDetections {
  at::Tensor boxes;    // [M, 4] XYXY float
  at::Tensor scores;   // [M]
  at::Tensor classes;  // [M] int64
};

// permute_to_N_HWA_K: (N, A*K, H, W) -> (N, H*W*A, K).
at::Tensor PermuteToNHWAK(const at::Tensor& tensor, int64_t k);

// _decode_per_level_predictions for one image and level: scores [HWA, K] (after sigmoid),
// deltas [HWA, 4], anchors [HWA, 4]. Keeps scores > score_thresh, then the top
// min(#kept, topk_candidates) of them; decodes their boxes.
DenseDetections DecodePerLevel(const at::Tensor& anchors, const at::Tensor& scores,
                               const at::Tensor& deltas, double score_thresh,
                               int64_t topk_candidates,
                               const modeling::Box2BoxTransform& transform);

// RetinaNet.forward_inference: per-level head outputs (cls_logits [N, A*K, Hi, Wi],
// box_deltas [N, A*4, Hi, Wi]) and per-level anchors [Hi*Wi*A, 4] -> per image: levels decoded
// and concatenated, per-class batched NMS, the first max_detections kept. Before
// detector_postprocess. Throws c10::Error on inconsistent shapes (callers convert).
std::vector<DenseDetections> RetinaNetInference(
    const std::vector<at::Tensor>& cls_logits, const std::vector<at::Tensor>& box_deltas,
    const std::vector<at::Tensor>& anchors, int64_t num_classes,
    const modeling::Box2BoxTransform& transform, const RetinaNetInferenceOptions& options);

}  // namespace d2x::retinanet

#endif  // D2X_PLUGINS_ARCH_RETINANET_RETINANET_INFERENCE_H_
