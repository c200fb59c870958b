// The "caffe2" rewrite flavor of GeneralizedRCNN (Faster / Mask / Keypoint R-CNN with FPN):
// detectron2's Caffe2GeneralizedRCNN (docs/SPEC.md §A.3) on the Caffe2-semantics ops of
// core/caffe2_ops, with detectron2's argument values:
//
//   data, im_info -> (data - mean) / std -> backbone -> RPN head
//   -> GenerateProposals per level -> CollectRpnProposals
//   -> DistributeFpnProposals -> RoIAlign per level -> Concat -> BatchPermutation -> box head
//   -> Softmax -> BBoxTransform -> BoxWithNMSLimit  => bbox_nms, score_nms, class_nms,
//                                                      batch_splits_nms
//   -> [rois from bbox_nms + LengthsToSegmentIds(batch_splits_nms) -> pooler -> mask head
//       -> Sigmoid => mask_fcn_probs]  [-> keypoint head => kps_score]
//
// The net's inputs and outputs are marked with AliasWithName (c2_alias_with_name). The traced
// function keeps the detector I/O contract (core/export/detector_io.h): it builds data / im_info
// from images / image_sizes / output_sizes before the net and converts the net's outputs to
// detections after it (core/caffe2_ops/c2_detections.h), so the host traces, describes and
// verifies it like any other flavor; the Caffe2 exporter converts the part between the aliases.
#ifndef D2X_PLUGINS_ARCH_RCNN_CAFFE2_REWRITER_H_
#define D2X_PLUGINS_ARCH_RCNN_CAFFE2_REWRITER_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"
#include "core/modeling/backbone.h"
#include "core/rewriter.h"

namespace d2x::rcnn {

class GeneralizedRcnn;
struct Caffe2PoolerSpec;

// The Caffe2 net of GeneralizedRCNN, reusable by architectures built on it (PanopticFPN).
class RcnnCaffe2Graph {
 public:
  static absl::StatusOr<std::unique_ptr<RcnnCaffe2Graph>> Create(GeneralizedRcnn& model);
  ~RcnnCaffe2Graph();

  struct Outputs {
    modeling::FeatureMap features;
    // bbox_nms, score_nms, class_nms, batch_splits_nms [, mask_fcn_probs] [, kps_score], each
    // already marked with its alias.
    std::map<std::string, at::Tensor> net;
  };
  // data: aliased float [N, 3, Hp, Wp] raw pixels; im_info: aliased [N, 3].
  Outputs Run(const at::Tensor& data, const at::Tensor& im_info);

  // The net output names in detectron2's order (legacy order: boxes, scores, classes, masks /
  // keypoints), then batch_splits_nms.
  const std::vector<std::string>& net_outputs() const { return net_outputs_; }
  // Detector-contract fields (sorted), as the generic flavor.
  const std::vector<std::string>& fields() const { return fields_; }
  absl::StatusOr<std::vector<at::Tensor>> MakeInputs(const std::vector<ImageInput>& batch) const;
  InputPadding input_padding() const;
  double mask_threshold() const;
  const at::Tensor& keypoint_columns() const { return keypoint_columns_; }

 private:
  explicit RcnnCaffe2Graph(GeneralizedRcnn& model);
  at::Tensor Pool(const Caffe2PoolerSpec& spec, const std::vector<at::Tensor>& features,
                  const at::Tensor& rois) const;

  GeneralizedRcnn& model_;
  at::Tensor pixel_mean_, pixel_std_;  // [1, C, 1, 1]
  at::Tensor keypoint_columns_;        // {0, 1, 3}
  std::vector<at::Tensor> cell_anchors_;
  std::vector<double> rpn_scales_;
  std::unique_ptr<Caffe2PoolerSpec> box_pooler_, mask_pooler_, keypoint_pooler_;
  std::vector<std::string> net_outputs_, fields_;
};

// GeneralizedRCNN as a TraceableModel of the "caffe2" flavor.
absl::StatusOr<std::unique_ptr<TraceableModel>> RewriteGeneralizedRcnnCaffe2(
    GeneralizedRcnn& model);

// The rcnn plugin's rewriter: "generic" (rewriter.h) and "caffe2".
class RcnnRewriterWithCaffe2 : public Rewriter {
 public:
  std::vector<std::string> flavors() const override { return {"generic", "caffe2"}; }
  absl::StatusOr<std::unique_ptr<TraceableModel>> Rewrite(Model& model,
                                                          const RewriteOptions& options) override;
};

}  // namespace d2x::rcnn

#endif  // D2X_PLUGINS_ARCH_RCNN_CAFFE2_REWRITER_H_
