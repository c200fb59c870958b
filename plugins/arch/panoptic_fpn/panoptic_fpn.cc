#include "plugins/arch/panoptic_fpn/panoptic_fpn.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace d2x::panoptic_fpn {

absl::StatusOr<std::unique_ptr<PanopticFpn>> PanopticFpn::Create(
    const PanopticFpnOptions& options) {
  if (!options.rcnn.roi_heads.mask_on) {
    return absl::InvalidArgumentError(
        "PanopticFPN needs instance masks: MODEL.MASK_ON must be True");
  }
  std::unique_ptr<PanopticFpn> model(new PanopticFpn());
  model->options_ = options;
  D2X_ASSIGN_OR_RETURN(model->rcnn_, rcnn::GeneralizedRcnn::Create(options.rcnn));
  try {
    D2X_ASSIGN_OR_RETURN(
        model->sem_seg_head_,
        SemSegFpnHead::Create(options.sem_seg_head, model->rcnn_->backbone().output_shape()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("building PanopticFPN sem_seg_head: ", e.what()));
  }
  return model;
}

std::vector<std::pair<std::string, at::Tensor>> PanopticFpn::StateDict() {
  std::vector<std::pair<std::string, at::Tensor>> out = rcnn_->StateDict();
  for (const auto& item : sem_seg_head_->named_parameters(/*recurse=*/true)) {
    out.emplace_back("sem_seg_head." + item.key(), item.value());
  }
  for (const auto& item : sem_seg_head_->named_buffers(/*recurse=*/true)) {
    out.emplace_back("sem_seg_head." + item.key(), item.value());
  }
  return out;
}

absl::StatusOr<std::vector<ImageResult>> PanopticFpn::Inference(
    const std::vector<ImageInput>& batch) {
  return InferenceWithStages(batch, nullptr);
}

absl::StatusOr<std::vector<ImageResult>> PanopticFpn::InferenceWithStages(
    const std::vector<ImageInput>& batch, PanopticStages* stages) {
  if (batch.empty()) return std::vector<ImageResult>();
  // The R-CNN part (instances after detector_postprocess, masks pasted); its stages give the
  // backbone features the semantic head runs on.
  PanopticStages local;
  PanopticStages* s = stages != nullptr ? stages : &local;
  D2X_ASSIGN_OR_RETURN(std::vector<ImageResult> results,
                       rcnn_->InferenceWithStages(batch, &s->rcnn));
  try {
    at::NoGradGuard no_grad;
    s->sem_seg_logits = sem_seg_head_->Forward(s->rcnn.features);
    for (size_t i = 0; i < batch.size(); ++i) {
      const structures::ImageSize& size = s->rcnn.images.image_sizes[i];
      const int64_t out_h = batch[i].height > 0 ? batch[i].height : size.height;
      const int64_t out_w = batch[i].width > 0 ? batch[i].width : size.width;
      ImageResult& r = results[i];
      r.sem_seg = SemSegPostprocess(s->sem_seg_logits[static_cast<int64_t>(i)], size.height,
                                    size.width, out_h, out_w);
      const Instances& inst = r.instances;
      PanopticOutput panoptic = CombineSemanticAndInstanceOutputs(
          inst.fields.at("scores"), inst.fields.at("pred_classes"), inst.fields.at("pred_masks"),
          r.sem_seg.argmax(0), options_.combine);
      r.panoptic_seg = std::move(panoptic.panoptic_seg);
      r.segments_info = std::move(panoptic.segments_info);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("PanopticFPN inference failed: ", e.what()));
  }
  return results;
}

}  // namespace d2x::panoptic_fpn
