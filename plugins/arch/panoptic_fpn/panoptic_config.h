// PanopticFpnOptions from a detectron2 config (SPEC §A.7 keys): everything GeneralizedRCNN reads
// (through the R-CNN plugin's ReadGeneralizedRcnnOptions), MODEL.SEM_SEG_HEAD.* and
// MODEL.PANOPTIC_FPN.COMBINE.*.
#ifndef D2X_PLUGINS_ARCH_PANOPTIC_FPN_PANOPTIC_CONFIG_H_
#define D2X_PLUGINS_ARCH_PANOPTIC_FPN_PANOPTIC_CONFIG_H_

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "plugins/arch/panoptic_fpn/panoptic_fpn.h"

namespace d2x::panoptic_fpn {

// Errors name the key: MODEL.META_ARCHITECTURE not PanopticFPN, MODEL.SEM_SEG_HEAD.NAME other than
// SemSegFPNHead, and whatever ReadGeneralizedRcnnOptions rejects.
absl::StatusOr<PanopticFpnOptions> ReadPanopticFpnOptions(const config::Config& config);

}  // namespace d2x::panoptic_fpn

#endif  // D2X_PLUGINS_ARCH_PANOPTIC_FPN_PANOPTIC_CONFIG_H_
