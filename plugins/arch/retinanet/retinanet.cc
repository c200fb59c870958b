#include "plugins/arch/retinanet/retinanet.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <exception>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/modeling/module_state.h"
#include "core/modeling/preprocess.h"
#include "core/structures/postprocess.h"
#include "core/util/status_macros.h"

namespace d2x::retinanet {

absl::StatusOr<std::unique_ptr<RetinaNet>> RetinaNet::Create(const RetinaNetOptions& options) {
  if (options.pixel_mean.size() != options.pixel_std.size() || options.pixel_mean.empty()) {
    return absl::InvalidArgumentError(
        "MODEL.PIXEL_MEAN and MODEL.PIXEL_STD must have the same, non-zero length");
  }
  if (options.in_features.empty()) {
    return absl::InvalidArgumentError("MODEL.RETINANET.IN_FEATURES must not be empty");
  }
  std::unique_ptr<RetinaNet> model(new RetinaNet(options));
  try {
    modeling::ResNetConfig resnet = options.resnet;
    resnet.in_channels = static_cast<int64_t>(options.pixel_mean.size());
    if (options.backbone_name == "build_retinanet_resnet_fpn_backbone") {
      D2X_ASSIGN_OR_RETURN(model->backbone_,
                           modeling::BuildRetinaNetResNetFpnBackbone(resnet, options.fpn));
    } else if (options.backbone_name == "build_resnet_fpn_backbone") {
      D2X_ASSIGN_OR_RETURN(model->backbone_,
                           modeling::BuildResNetFpnBackbone(resnet, options.fpn));
    } else {
      return absl::UnimplementedError(absl::StrCat(
          "MODEL.BACKBONE.NAME: '", options.backbone_name,
          "' is not supported by RetinaNet (supported: build_retinanet_resnet_fpn_backbone, "
          "build_resnet_fpn_backbone)"));
    }
    const std::map<std::string, modeling::ShapeSpec> shapes = model->backbone_->output_shape();
    std::vector<modeling::ShapeSpec> feature_shapes;
    for (const std::string& f : options.in_features) {
      auto it = shapes.find(f);
      if (it == shapes.end()) {
        std::vector<std::string> names;
        for (const auto& [name, shape] : shapes) names.push_back(name);
        return absl::InvalidArgumentError(
            absl::StrCat("MODEL.RETINANET.IN_FEATURES: '", f,
                         "' is not an output of the backbone (outputs: ",
                         absl::StrJoin(names, ", "), ")"));
      }
      feature_shapes.push_back(it->second);
    }

    modeling::AnchorGeneratorOptions anchor_options = options.anchors;
    anchor_options.strides.clear();
    for (const modeling::ShapeSpec& s : feature_shapes) anchor_options.strides.push_back(s.stride);
    absl::StatusOr<modeling::DefaultAnchorGenerator> anchors =
        modeling::DefaultAnchorGenerator::Create(anchor_options);
    if (!anchors.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("MODEL.ANCHOR_GENERATOR: ", anchors.status().message()));
    }
    model->anchor_generator_ = *std::move(anchors);
    const std::vector<int64_t> num_anchors = model->anchor_generator_.num_anchors();
    if (std::set<int64_t>(num_anchors.begin(), num_anchors.end()).size() != 1) {
      return absl::InvalidArgumentError(
          "MODEL.ANCHOR_GENERATOR: using different number of anchors between levels is not "
          "supported by RetinaNetHead");
    }

    RetinaNetHeadOptions head;
    head.in_channels = feature_shapes[0].channels;
    head.num_levels = static_cast<int64_t>(feature_shapes.size());
    head.num_classes = options.num_classes;
    head.num_anchors = num_anchors[0];
    head.num_convs = options.num_convs;
    head.norm = options.norm;
    for (const modeling::ShapeSpec& s : feature_shapes) {
      if (s.channels != head.in_channels) {
        return absl::InvalidArgumentError(
            "MODEL.RETINANET.IN_FEATURES: all features must have the same number of channels");
      }
    }
    D2X_ASSIGN_OR_RETURN(model->head_, RetinaNetHead::Create(head));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("building RetinaNet: ", e.what()));
  }
  return model;
}

std::vector<std::pair<std::string, at::Tensor>> RetinaNet::StateDict() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  modeling::CollectModuleState("backbone.", *backbone_, &out);
  modeling::CollectModuleState("head.", *head_, &out);
  return out;
}

absl::StatusOr<structures::ImageList> RetinaNet::Preprocess(
    const std::vector<ImageInput>& batch) const {
  return modeling::PreprocessImages(batch, options_.pixel_mean, options_.pixel_std,
                                    backbone_->size_divisibility(), backbone_->square_pad());
}

absl::StatusOr<std::vector<ImageResult>> RetinaNet::Inference(
    const std::vector<ImageInput>& batch) {
  return InferenceWithStages(batch, nullptr);
}

absl::StatusOr<std::vector<ImageResult>> RetinaNet::InferenceWithStages(
    const std::vector<ImageInput>& batch, RetinaNetStages* stages) {
  if (batch.empty()) return std::vector<ImageResult>();
  try {
    at::NoGradGuard no_grad;
    D2X_ASSIGN_OR_RETURN(structures::ImageList images, Preprocess(batch));
    modeling::FeatureMap features = backbone_->Forward(images.tensor);
    std::vector<at::Tensor> head_features;
    for (const std::string& f : options_.in_features) head_features.push_back(features.at(f));
    auto [cls_logits, box_deltas] = head_->Forward(head_features);
    std::vector<at::Tensor> anchors = anchor_generator_.Forward(head_features);
    std::vector<DenseDetections> raw =
        RetinaNetInference(cls_logits, box_deltas, anchors, options_.num_classes,
                           box2box_transform_, options_.inference);

    std::vector<ImageResult> results(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const structures::ImageSize& size = images.image_sizes[i];
      Instances instances;
      instances.image_height = size.height;
      instances.image_width = size.width;
      instances.fields["pred_boxes"] = raw[i].boxes;
      instances.fields["scores"] = raw[i].scores;
      instances.fields["pred_classes"] = raw[i].classes;
      const int64_t out_h = batch[i].height > 0 ? batch[i].height : size.height;
      const int64_t out_w = batch[i].width > 0 ? batch[i].width : size.width;
      D2X_ASSIGN_OR_RETURN(results[i].instances,
                           structures::DetectorPostprocess(instances, out_h, out_w));
    }
    if (stages != nullptr) {
      stages->images = std::move(images);
      stages->features = std::move(features);
      stages->cls_logits = std::move(cls_logits);
      stages->box_deltas = std::move(box_deltas);
      stages->anchors = std::move(anchors);
      stages->raw = std::move(raw);
    }
    return results;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("RetinaNet inference failed: ", e.what()));
  }
}

}  // namespace d2x::retinanet
