// Model: a detectron2 meta-architecture in eager C++ (built by an architecture plugin from a Config).
//
// Parameters and buffers carry detectron2's names (`backbone.bottom_up.res2.0.conv1.weight`), so a
// detectron2 checkpoint maps onto StateDict() 1:1. Inference() reproduces detectron2's
// `model(batched_inputs)` in eval mode: it is the reference every exported artifact is verified
// against.
#ifndef D2X_CORE_MODEL_H_
#define D2X_CORE_MODEL_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x {

// One image, as detectron2's `{"image": ..., "height": ..., "width": ...}`.
struct ImageInput {
  at::Tensor image;    // [3, H, W], uint8 or float, channels in the config's INPUT.FORMAT order
  int64_t height = 0;  // requested output size; 0 = the image's own size
  int64_t width = 0;
};

// detectron2's Instances for one image. Field names and layouts follow detectron2:
// pred_boxes [N,4] XYXY float, scores [N] float, pred_classes [N] int64, pred_masks [N,H,W] bool,
// pred_keypoints [N,K,3] (x, y, score) float.
struct Instances {
  int64_t image_height = 0;
  int64_t image_width = 0;
  std::map<std::string, at::Tensor> fields;

  int64_t size() const { return fields.empty() ? 0 : fields.begin()->second.size(0); }
};

// One entry of panoptic `segments_info`, as detectron2's combine_semantic_and_instance_outputs.
struct PanopticSegment {
  int32_t id = 0;
  int64_t category_id = 0;
  bool isthing = false;
  int64_t area = 0;
  float score = 0.f;         // things only
  int64_t instance_id = -1;  // things only: index into `instances`
};

// Everything a meta-architecture returns for one image; unused parts stay undefined/empty.
struct ImageResult {
  Instances instances;
  at::Tensor sem_seg;       // [C, H, W] float logits (semantic models)
  at::Tensor panoptic_seg;  // [H, W] int32 (panoptic models)
  std::vector<PanopticSegment> segments_info;
};

class Model {
 public:
  virtual ~Model() = default;

  // MODEL.META_ARCHITECTURE, e.g. "GeneralizedRCNN".
  virtual std::string meta_architecture() const = 0;

  // Every parameter and buffer by detectron2 name. The tensors alias the model's storage: copying
  // into them (under NoGradGuard) loads weights.
  virtual std::vector<std::pair<std::string, at::Tensor>> StateDict() = 0;

  // Runs inference on a batch (all images in one forward, padded like detectron2's ImageList).
  virtual absl::StatusOr<std::vector<ImageResult>> Inference(
      const std::vector<ImageInput>& batch) = 0;
};

}  // namespace d2x

#endif  // D2X_CORE_MODEL_H_
