// The "caffe2" rewrite flavor of PanopticFPN, as detectron2 exported it before be945b33
// (docs/SPEC.md §A.3): the GeneralizedRCNN Caffe2 net (plugins/arch/rcnn/caffe2_rewriter.h) plus
// the semantic head's logits as net output `sem_seg`; sem_seg_postprocess and the panoptic
// combination run after the net (the d2x Caffe2 runner repeats them with the constants recorded
// as "panoptic_combine.*" predict_net args).
#ifndef D2X_PLUGINS_ARCH_PANOPTIC_FPN_CAFFE2_REWRITER_H_
#define D2X_PLUGINS_ARCH_PANOPTIC_FPN_CAFFE2_REWRITER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/rewriter.h"

namespace d2x::panoptic_fpn {

// The panoptic_fpn plugin's rewriter: "generic" (rewriter.h) and "caffe2".
class PanopticFpnRewriterWithCaffe2 : public Rewriter {
 public:
  std::vector<std::string> flavors() const override { return {"generic", "caffe2"}; }
  absl::StatusOr<std::unique_ptr<TraceableModel>> Rewrite(Model& model,
                                                          const RewriteOptions& options) override;
};

}  // namespace d2x::panoptic_fpn

#endif  // D2X_PLUGINS_ARCH_PANOPTIC_FPN_CAFFE2_REWRITER_H_
