// The "caffe2" rewrite flavor of RetinaNet: detectron2's Caffe2RetinaNet (docs/SPEC.md §A.3).
// The net is the standard conv graph only: data, im_info -> (data - mean) / std -> backbone ->
// head => box_cls_<i> [N, A*K, Hi, Wi], box_delta_<i> [N, A*4, Hi, Wi] per level. Anchors,
// decoding and NMS stay outside the net (detectron2 runs RetinaNet.forward_inference in Python;
// the d2x Caffe2 runner runs d2x::dense_detections with the constants the exporter stores as
// "dense_detections.*" predict_net args). The traced function keeps the detector I/O contract
// (see plugins/arch/rcnn/caffe2_rewriter.h).
#ifndef D2X_PLUGINS_ARCH_RETINANET_CAFFE2_REWRITER_H_
#define D2X_PLUGINS_ARCH_RETINANET_CAFFE2_REWRITER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/rewriter.h"

namespace d2x::retinanet {

// The retinanet plugin's rewriter: "generic" (rewriter.h) and "caffe2".
class RetinaNetRewriterWithCaffe2 : public Rewriter {
 public:
  std::vector<std::string> flavors() const override { return {"generic", "caffe2"}; }
  absl::StatusOr<std::unique_ptr<TraceableModel>> Rewrite(Model& model,
                                                          const RewriteOptions& options) override;
};

}  // namespace d2x::retinanet

#endif  // D2X_PLUGINS_ARCH_RETINANET_CAFFE2_REWRITER_H_
