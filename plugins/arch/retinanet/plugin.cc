// libd2x_retinanet.so: registers the "RetinaNet" model builder and its export rewriter.
#include "absl/status/status.h"
#include "core/plugin/plugin_api.h"
#include "plugins/arch/retinanet/caffe2_rewriter.h"
#include "plugins/arch/retinanet/retinanet.h"
#include "plugins/arch/retinanet/rewriter.h"

namespace d2x::retinanet {
namespace {

absl::Status RegisterRetinaNet(plugin::Registrar& registrar) {
  registrar.AddModelBuilder("RetinaNet", &BuildRetinaNet);
  registrar.AddRewriter("RetinaNet",
                        [] { return std::make_unique<RetinaNetRewriterWithCaffe2>(); });
  return absl::OkStatus();
}

}  // namespace
}  // namespace d2x::retinanet

D2X_DEFINE_PLUGIN("retinanet", "0.1.0", ::d2x::retinanet::RegisterRetinaNet)
