// The R-CNN rewriter: GeneralizedRCNN (Faster / Mask / Keypoint R-CNN) as a TraceableModel of
// the "generic" flavor (core/export/detector_io.h gives the I/O contract).
//
// Forward is the eager inference with every shape-dependent step replaced by a coarse d2x op
// (core/ops/detection_ops.h), so a trace generalizes to any image size and batch size:
//
//   normalize_images (mean/std + zero padding) -> backbone (convs; FPN upsamples by scale factor)
//   -> RPN head convs -> rpn_proposals -> multilevel_roi_align -> box head FCs + predictor
//   -> box_postprocess -> detector_postprocess (rescale/clip/non-empty)
//   -> [mask head on the pre-rescale boxes, class selection, sigmoid, paste_masks]
//   -> [keypoint head, heatmaps_to_keypoints, rescale]
//
// It calls the eager modules' inference code directly (backbone Forward, head Forward), never a
// training branch: nothing a trace cannot express reaches it (see docs/EXPORT.md, "Keeping
// training-only code out of traces"). Results equal GeneralizedRcnn::Inference bit for bit.
#ifndef D2X_PLUGINS_ARCH_RCNN_REWRITER_H_
#define D2X_PLUGINS_ARCH_RCNN_REWRITER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/rewriter.h"

namespace d2x::rcnn {

class GeneralizedRcnn;

class RcnnRewriter : public Rewriter {
 public:
  std::vector<std::string> flavors() const override { return {"generic"}; }
  absl::StatusOr<std::unique_ptr<TraceableModel>> Rewrite(Model& model,
                                                          const RewriteOptions& options) override;
};

// The traceable model directly, for tests and other plugins built on GeneralizedRcnn.
absl::StatusOr<std::unique_ptr<TraceableModel>> RewriteGeneralizedRcnn(
    GeneralizedRcnn& model, const RewriteOptions& options);

}  // namespace d2x::rcnn

#endif  // D2X_PLUGINS_ARCH_RCNN_REWRITER_H_
