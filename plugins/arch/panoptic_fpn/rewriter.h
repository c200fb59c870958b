// The PanopticFPN rewriter: PanopticFPN as a TraceableModel of the "generic" flavor. The R-CNN
// branch is the R-CNN plugin's export graph (plugins/arch/rcnn/rewriter.h, reused); on its
// backbone features the semantic head runs, then d2x::sem_seg_postprocess and
// d2x::panoptic_combine. Outputs: the detector contract plus panoptic_seg, sem_seg,
// segments_info, segments_score, num_segments (core/export/detector_io.h). Results equal
// PanopticFpn::Inference bit for bit.
#ifndef D2X_PLUGINS_ARCH_PANOPTIC_FPN_REWRITER_H_
#define D2X_PLUGINS_ARCH_PANOPTIC_FPN_REWRITER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/rewriter.h"

namespace d2x::panoptic_fpn {

class PanopticFpnRewriter : public Rewriter {
 public:
  std::vector<std::string> flavors() const override { return {"generic"}; }
  absl::StatusOr<std::unique_ptr<TraceableModel>> Rewrite(Model& model,
                                                          const RewriteOptions& options) override;
};

}  // namespace d2x::panoptic_fpn

#endif  // D2X_PLUGINS_ARCH_PANOPTIC_FPN_REWRITER_H_
