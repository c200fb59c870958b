#include "plugins/arch/panoptic_fpn/panoptic_config.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "plugins/arch/rcnn/rcnn_config.h"

namespace d2x::panoptic_fpn {

absl::StatusOr<PanopticFpnOptions> ReadPanopticFpnOptions(const config::Config& config) {
  PanopticFpnOptions o;
  D2X_ASSIGN_OR_RETURN(std::string arch, config.GetString("MODEL.META_ARCHITECTURE"));
  if (arch != "PanopticFPN") {
    return absl::InvalidArgumentError(
        absl::StrCat("MODEL.META_ARCHITECTURE is '", arch, "', expected 'PanopticFPN'"));
  }
  // PanopticFPN is a GeneralizedRCNN subclass: the R-CNN plugin reads the shared keys. It checks
  // the meta-architecture, so it reads a copy that names the base class.
  config::Config rcnn_config = config;
  D2X_RETURN_IF_ERROR(rcnn_config.MergeFromList({"MODEL.META_ARCHITECTURE", "GeneralizedRCNN"}));
  D2X_ASSIGN_OR_RETURN(o.rcnn, rcnn::ReadGeneralizedRcnnOptions(rcnn_config));

  D2X_ASSIGN_OR_RETURN(std::string head_name, config.GetString("MODEL.SEM_SEG_HEAD.NAME"));
  if (head_name != "SemSegFPNHead") {
    return absl::UnimplementedError(absl::StrCat("MODEL.SEM_SEG_HEAD.NAME: '", head_name,
                                                 "' is not supported (SemSegFPNHead)"));
  }
  SemSegHeadOptions& h = o.sem_seg_head;
  D2X_ASSIGN_OR_RETURN(h.in_features, config.GetStringList("MODEL.SEM_SEG_HEAD.IN_FEATURES"));
  D2X_ASSIGN_OR_RETURN(h.num_classes, config.GetInt("MODEL.SEM_SEG_HEAD.NUM_CLASSES"));
  D2X_ASSIGN_OR_RETURN(h.conv_dims, config.GetInt("MODEL.SEM_SEG_HEAD.CONVS_DIM"));
  D2X_ASSIGN_OR_RETURN(h.common_stride, config.GetInt("MODEL.SEM_SEG_HEAD.COMMON_STRIDE"));
  D2X_ASSIGN_OR_RETURN(h.norm, config.GetString("MODEL.SEM_SEG_HEAD.NORM"));

  CombineOptions& c = o.combine;
  D2X_ASSIGN_OR_RETURN(c.overlap_threshold,
                       config.GetFloat("MODEL.PANOPTIC_FPN.COMBINE.OVERLAP_THRESH"));
  D2X_ASSIGN_OR_RETURN(c.stuff_area_thresh,
                       config.GetFloat("MODEL.PANOPTIC_FPN.COMBINE.STUFF_AREA_LIMIT"));
  D2X_ASSIGN_OR_RETURN(c.instances_score_thresh,
                       config.GetFloat("MODEL.PANOPTIC_FPN.COMBINE.INSTANCES_CONFIDENCE_THRESH"));
  return o;
}

absl::StatusOr<std::unique_ptr<Model>> BuildPanopticFpn(const config::Config& config) {
  D2X_ASSIGN_OR_RETURN(PanopticFpnOptions options, ReadPanopticFpnOptions(config));
  D2X_ASSIGN_OR_RETURN(std::unique_ptr<PanopticFpn> model, PanopticFpn::Create(options));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace d2x::panoptic_fpn
