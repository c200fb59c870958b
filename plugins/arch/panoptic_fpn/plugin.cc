// libd2x_panoptic_fpn.so: registers the "PanopticFPN" model builder and its export rewriter.
#include "absl/status/status.h"
#include "core/plugin/plugin_api.h"
#include "plugins/arch/panoptic_fpn/panoptic_fpn.h"
#include "plugins/arch/panoptic_fpn/caffe2_rewriter.h"
#include "plugins/arch/panoptic_fpn/rewriter.h"

namespace d2x::panoptic_fpn {
namespace {

absl::Status RegisterPanopticFpn(plugin::Registrar& registrar) {
  registrar.AddModelBuilder("PanopticFPN", &BuildPanopticFpn);
  registrar.AddRewriter("PanopticFPN",
                        [] { return std::make_unique<PanopticFpnRewriterWithCaffe2>(); });
  return absl::OkStatus();
}

}  // namespace
}  // namespace d2x::panoptic_fpn

D2X_DEFINE_PLUGIN("panoptic_fpn", "0.1.0", ::d2x::panoptic_fpn::RegisterPanopticFpn)
