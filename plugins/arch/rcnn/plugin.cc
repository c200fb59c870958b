// The rcnn plugin's entry point: registers the GeneralizedRCNN model builder and its export
// rewriter.
#include "core/plugin/plugin_api.h"
#include "plugins/arch/rcnn/caffe2_rewriter.h"
#include "plugins/arch/rcnn/generalized_rcnn.h"
#include "plugins/arch/rcnn/rewriter.h"

namespace {

absl::Status RegisterRcnn(d2x::plugin::Registrar& registrar) {
  registrar.AddModelBuilder("GeneralizedRCNN", &d2x::rcnn::BuildGeneralizedRcnn);
  registrar.AddRewriter("GeneralizedRCNN",
                        [] { return std::make_unique<d2x::rcnn::RcnnRewriterWithCaffe2>(); });
  return absl::OkStatus();
}

}  // namespace

D2X_DEFINE_PLUGIN("rcnn", "0.1.0", RegisterRcnn)
