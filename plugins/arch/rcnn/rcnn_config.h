// Reads GeneralizedRcnnOptions from a detectron2 config (SPEC §A.7 keys). Only what this plugin
// implements is accepted: ResNet+FPN backbone (build_resnet_fpn_backbone), RPN with
// StandardRPNHead and DefaultAnchorGenerator, StandardROIHeads with FastRCNNConvFCHead,
// MaskRCNNConvUpsampleHead and KRCNNConvDeconvUpsampleHead; anything else is an Unimplemented
// error naming the key and value.
#ifndef D2X_PLUGINS_ARCH_RCNN_RCNN_CONFIG_H_
#define D2X_PLUGINS_ARCH_RCNN_RCNN_CONFIG_H_

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "plugins/arch/rcnn/generalized_rcnn.h"

namespace d2x::rcnn {

absl::StatusOr<GeneralizedRcnnOptions> ReadGeneralizedRcnnOptions(const config::Config& config);

}  // namespace d2x::rcnn

#endif  // D2X_PLUGINS_ARCH_RCNN_RCNN_CONFIG_H_
