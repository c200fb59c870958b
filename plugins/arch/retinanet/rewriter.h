// The RetinaNet rewriter: RetinaNet as a TraceableModel of the "generic" flavor (the detector I/O
// contract of core/export/detector_io.h; outputs pred_boxes, pred_classes, scores).
//
// Forward: d2x::normalize_images -> backbone (ResNet + FPN + P6/P7 convs) -> RetinaNetHead convs
// -> d2x::dense_detections (anchors, sigmoid, threshold, top-k, decode, class-wise NMS) ->
// d2x::detector_postprocess. Results equal RetinaNet::Inference bit for bit.
#ifndef D2X_PLUGINS_ARCH_RETINANET_REWRITER_H_
#define D2X_PLUGINS_ARCH_RETINANET_REWRITER_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/rewriter.h"

namespace d2x::retinanet {

class RetinaNet;

// The part of every RetinaNet rewrite after the head: d2x::dense_detections (anchors, sigmoid,
// threshold, top-k, decode, class-wise NMS) and d2x::detector_postprocess on the per-level head
// outputs. Returns the named outputs of the detector contract (pred_boxes, pred_classes, scores,
// image_size, num_instances).
std::map<std::string, at::Tensor> DetectionsFromHeadOutputs(const RetinaNet& model,
                                                            at::TensorList cls_logits,
                                                            at::TensorList box_deltas,
                                                            const at::Tensor& image_sizes,
                                                            const at::Tensor& output_sizes);

// Instance fields of RetinaNet exports, and the traceable model's constructor arguments.
inline const std::vector<std::string>& RetinaNetFields() {
  static const std::vector<std::string> kFields = {"pred_boxes", "pred_classes", "scores"};
  return kFields;
}

class RetinaNetRewriter : public Rewriter {
 public:
  std::vector<std::string> flavors() const override { return {"generic"}; }
  absl::StatusOr<std::unique_ptr<TraceableModel>> Rewrite(Model& model,
                                                          const RewriteOptions& options) override;
};

}  // namespace d2x::retinanet

#endif  // D2X_PLUGINS_ARCH_RETINANET_REWRITER_H_
