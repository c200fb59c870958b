// RetinaNetOptions from a detectron2 config (SPEC §A.7 keys): MODEL.PIXEL_MEAN / PIXEL_STD,
// MODEL.BACKBONE.NAME, MODEL.RESNETS.*, MODEL.FPN.*, MODEL.ANCHOR_GENERATOR.*, MODEL.RETINANET.*,
// TEST.DETECTIONS_PER_IMAGE.
#ifndef D2X_PLUGINS_ARCH_RETINANET_RETINANET_CONFIG_H_
#define D2X_PLUGINS_ARCH_RETINANET_RETINANET_CONFIG_H_

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/modeling/fpn.h"
#include "core/modeling/resnet.h"
#include "plugins/arch/retinanet/retinanet.h"

namespace d2x::retinanet {

// MODEL.RESNETS.* (and the input channels from MODEL.PIXEL_MEAN). MODEL.RESNETS.DEFORM_ON_PER_STAGE
// is not read (deformable stages are unsupported by the backbone).
absl::StatusOr<modeling::ResNetConfig> ResNetConfigFromConfig(const config::Config& cfg);
// MODEL.FPN.*.
absl::StatusOr<modeling::FpnConfig> FpnConfigFromConfig(const config::Config& cfg);

// Errors name the key: missing keys, wrong types, MODEL.META_ARCHITECTURE not RetinaNet,
// MODEL.ANCHOR_GENERATOR.NAME other than DefaultAnchorGenerator, BBOX_REG_WEIGHTS not 4 values.
absl::StatusOr<RetinaNetOptions> RetinaNetOptionsFromConfig(const config::Config& cfg);

}  // namespace d2x::retinanet

#endif  // D2X_PLUGINS_ARCH_RETINANET_RETINANET_CONFIG_H_
