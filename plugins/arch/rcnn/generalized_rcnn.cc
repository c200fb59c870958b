#include "plugins/arch/rcnn/generalized_rcnn.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/modeling/module_state.h"
#include "core/modeling/preprocess.h"
#include "core/structures/postprocess.h"
#include "core/util/status_macros.h"
#include "plugins/arch/rcnn/mask_head.h"

namespace d2x::rcnn {
namespace {

// Pooler scales (1 / stride) of `in_features` from the backbone's output shapes.
absl::StatusOr<std::vector<double>> PoolerScales(
    const std::map<std::string, modeling::ShapeSpec>& shapes,
    const std::vector<std::string>& in_features) {
  std::vector<double> scales;
  for (const std::string& f : in_features) {
    auto it = shapes.find(f);
    if (it == shapes.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MODEL.ROI_HEADS.IN_FEATURES: '", f, "' is not an output of the backbone"));
    }
    scales.push_back(1.0 / static_cast<double>(it->second.stride));
  }
  return scales;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GeneralizedRcnn>> GeneralizedRcnn::Create(
    const GeneralizedRcnnOptions& options) {
  std::unique_ptr<GeneralizedRcnn> model(new GeneralizedRcnn());
  model->options_ = options;
  if (options.pixel_mean.size() != options.pixel_std.size() || options.pixel_mean.empty()) {
    return absl::InvalidArgumentError(
        "MODEL.PIXEL_MEAN and MODEL.PIXEL_STD must have the same, non-zero length");
  }
  try {
    const int64_t c = static_cast<int64_t>(options.pixel_mean.size());

    modeling::ResNetConfig resnet = options.resnet;
    resnet.in_channels = c;
    D2X_ASSIGN_OR_RETURN(std::shared_ptr<modeling::Fpn> fpn,
                         modeling::BuildResNetFpnBackbone(resnet, options.fpn));
    model->backbone_ = fpn;
    const std::map<std::string, modeling::ShapeSpec> shapes = fpn->output_shape();
    D2X_ASSIGN_OR_RETURN(model->rpn_, modeling::Rpn::Create(options.rpn, shapes));

    RoiHeadsOptions heads = options.roi_heads;
    if (heads.in_features.empty()) {
      return absl::InvalidArgumentError("MODEL.ROI_HEADS.IN_FEATURES is empty");
    }
    D2X_ASSIGN_OR_RETURN(std::vector<double> scales, PoolerScales(shapes, heads.in_features));
    const int64_t in_channels = shapes.at(heads.in_features.front()).channels;
    for (const std::string& f : heads.in_features) {
      if (shapes.at(f).channels != in_channels) {
        return absl::InvalidArgumentError(
            "MODEL.ROI_HEADS.IN_FEATURES: all features must have the same number of channels");
      }
    }
    heads.box_head.in_channels = in_channels;
    heads.mask_head.in_channels = in_channels;
    heads.keypoint_head.in_channels = in_channels;

    // Poolers: box, then mask and keypoint when on. Reserve so the PoolFns' pointers stay valid.
    model->poolers_.reserve(3);
    auto make_pool_fn = [&](modeling::RoiPoolerOptions pooler_options,
                            const char* what) -> absl::StatusOr<PoolFn> {
      pooler_options.scales = scales;
      absl::StatusOr<modeling::RoiPooler> pooler = modeling::RoiPooler::Create(pooler_options);
      if (!pooler.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": ", pooler.status().message()));
      }
      model->poolers_.push_back(*std::move(pooler));
      const modeling::RoiPooler* p = &model->poolers_.back();
      return PoolFn([p](const std::vector<at::Tensor>& features,
                        const std::vector<at::Tensor>& boxes) {
        return p->Forward(features, boxes);
      });
    };
    heads.box_head.pooler_resolution = options.box_pooler.output_height;
    D2X_ASSIGN_OR_RETURN(PoolFn box_pool, make_pool_fn(options.box_pooler, "MODEL.ROI_BOX_HEAD"));
    PoolFn mask_pool, keypoint_pool;
    if (heads.mask_on) {
      D2X_ASSIGN_OR_RETURN(mask_pool, make_pool_fn(options.mask_pooler, "MODEL.ROI_MASK_HEAD"));
    }
    if (heads.keypoint_on) {
      D2X_ASSIGN_OR_RETURN(keypoint_pool,
                           make_pool_fn(options.keypoint_pooler, "MODEL.ROI_KEYPOINT_HEAD"));
    }
    D2X_ASSIGN_OR_RETURN(model->roi_heads_,
                         StandardRoiHeads::Create(heads, std::move(box_pool), std::move(mask_pool),
                                                  std::move(keypoint_pool)));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("building GeneralizedRCNN: ", e.what()));
  }
  return model;
}

std::vector<std::pair<std::string, at::Tensor>> GeneralizedRcnn::StateDict() {
  NamedTensors out;
  modeling::CollectModuleState("backbone.", *backbone_, &out);
  modeling::CollectModuleState("proposal_generator.", *rpn_, &out);
  roi_heads_.CollectState("roi_heads.", &out);
  return out;
}

absl::StatusOr<structures::ImageList> GeneralizedRcnn::Preprocess(
    const std::vector<ImageInput>& batch) const {
  return modeling::PreprocessImages(batch, options_.pixel_mean, options_.pixel_std,
                                    backbone_->size_divisibility(), backbone_->square_pad());
}

absl::StatusOr<std::vector<ImageResult>> GeneralizedRcnn::Inference(
    const std::vector<ImageInput>& batch) {
  return InferenceWithStages(batch, nullptr);
}

absl::StatusOr<std::vector<ImageResult>> GeneralizedRcnn::InferenceWithStages(
    const std::vector<ImageInput>& batch, RcnnStages* stages) {
  if (batch.empty()) return std::vector<ImageResult>();
  try {
    at::NoGradGuard no_grad;
    D2X_ASSIGN_OR_RETURN(structures::ImageList images, Preprocess(batch));
    modeling::FeatureMap features = backbone_->Forward(images.tensor);
    std::vector<modeling::Proposals> proposals = rpn_->Forward(images.image_sizes, features);

    std::vector<at::Tensor> proposal_boxes;
    std::vector<std::array<int64_t, 2>> sizes;
    for (size_t i = 0; i < proposals.size(); ++i) {
      proposal_boxes.push_back(proposals[i].boxes);
      sizes.push_back({images.image_sizes[i].height, images.image_sizes[i].width});
    }
    std::vector<RoiHeadsResult> raw;
    if (stages != nullptr) {
      // Same computation as StandardRoiHeads::Inference, keeping the predictor outputs.
      stages->predictions = roi_heads_.ForwardBoxPredictions(features, proposal_boxes);
      raw = roi_heads_.InferenceFromPredictions(features, stages->predictions, proposal_boxes,
                                                sizes);
    } else {
      raw = roi_heads_.Inference(features, proposal_boxes, sizes);
    }

    std::vector<ImageResult> results(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const RoiHeadsResult& r = raw[i];
      Instances instances;
      instances.image_height = sizes[i][0];
      instances.image_width = sizes[i][1];
      instances.fields["pred_boxes"] = r.boxes;
      instances.fields["scores"] = r.scores;
      instances.fields["pred_classes"] = r.classes;
      if (r.mask_probs.defined()) instances.fields["pred_masks"] = r.mask_probs;
      if (r.keypoints.defined()) {
        instances.fields["pred_keypoints"] = r.keypoints;
        instances.fields["pred_keypoint_heatmaps"] = r.keypoint_heatmaps;
      }
      const int64_t out_h = batch[i].height > 0 ? batch[i].height : sizes[i][0];
      const int64_t out_w = batch[i].width > 0 ? batch[i].width : sizes[i][1];
      D2X_ASSIGN_OR_RETURN(Instances out,
                           structures::DetectorPostprocess(instances, out_h, out_w));
      auto masks = out.fields.find("pred_masks");
      if (masks != out.fields.end()) {
        masks->second = PasteMasksInImage(masks->second.select(1, 0), out.fields.at("pred_boxes"),
                                          out_h, out_w, options_.mask_threshold);
      }
      results[i].instances = std::move(out);
    }
    if (stages != nullptr) {
      stages->images = std::move(images);
      stages->features = std::move(features);
      stages->proposals = std::move(proposals);
      stages->raw = std::move(raw);
    }
    return results;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("GeneralizedRCNN inference failed: ", e.what()));
  }
}

}  // namespace d2x::rcnn
