// The R-CNN rewriter: GeneralizedRCNN (Faster / Mask / Keypoint R-CNN) as a TraceableModel of
// the "generic" flavor (core/export/detector_io.h gives the I/O contract).
//
// Forward is the eager inference with every shape-dependent step replaced by a coarse d2x op
// (core/ops/detection_ops.h), so a trace generalizes to any image size and batch size:
//
//   normalize_images (mean/std + zero padding) -> backbone (convs; FPN upsamples by scale factor)
//   -> RPN head convs -> rpn_proposals -> multilevel_roi_align -> box head FCs + predictor
//   -> box_postprocess -> detector_postprocess (rescale/clip/non-empty)
//   -> [mask head on the pre-rescale boxes, class selection, sigmoid, paste_masks]
//   -> [keypoint head, heatmaps_to_keypoints, rescale]
//
// It calls the eager modules' inference code directly (backbone Forward, head Forward), never a
// training branch: nothing a trace cannot express reaches it (see docs/EXPORT.md, "Keeping
// training-only code out of traces"). Results equal GeneralizedRcnn::Inference bit for bit.
#ifndef D2X_PLUGINS_ARCH_RCNN_REWRITER_H_
#define D2X_PLUGINS_ARCH_RCNN_REWRITER_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"
#include "core/modeling/backbone.h"
#include "core/modeling/poolers.h"
#include "core/rewriter.h"

namespace d2x::rcnn {

class GeneralizedRcnn;

// A pooler's settings plus the scales of the ROI heads' input features.
struct PoolerSpec {
  std::vector<double> scales;
  int64_t output_height = 7, output_width = 7, sampling_ratio = 0;
  bool aligned = true;
  int64_t canonical_box_size = 224, canonical_level = 4;
};

// The spec of one ROI head's pooler, validated exactly as the eager model validated it when it
// was built; errors are prefixed with `what` (the config section).
absl::StatusOr<PoolerSpec> MakePoolerSpec(const modeling::RoiPoolerOptions& options,
                                          const std::vector<double>& scales, const char* what);

// The R-CNN export graph, reusable by architectures built on GeneralizedRcnn (PanopticFPN adds
// its semantic branch on the returned features). Run is what gets traced.
class RcnnExportGraph {
 public:
  static absl::StatusOr<std::unique_ptr<RcnnExportGraph>> Create(GeneralizedRcnn& model);
  ~RcnnExportGraph();

  struct Outputs {
    modeling::FeatureMap features;             // backbone outputs
    std::map<std::string, at::Tensor> fields;  // pred_boxes, scores, ... (all images)
    at::Tensor batch_index;                    // [D] int64: the image of each detection
    at::Tensor num_instances;                  // [N] int64
  };
  // inputs: images, image_sizes, output_sizes (core/export/detector_io.h).
  Outputs Run(const std::vector<at::Tensor>& inputs);

  // The Instances fields Run returns, sorted.
  const std::vector<std::string>& fields() const { return fields_; }
  absl::StatusOr<std::vector<at::Tensor>> MakeInputs(const std::vector<ImageInput>& batch) const;
  InputPadding input_padding() const;

 private:
  explicit RcnnExportGraph(GeneralizedRcnn& model);

  GeneralizedRcnn& model_;
  // Tensors Run needs are made here, outside the trace: a tensor built from C++ values inside
  // the traced function (at::tensor, from_blob) is recorded as an uninitialized aten::empty.
  at::Tensor keypoint_columns_;  // {0, 1, 3}: (x, y, score) of heatmaps_to_keypoints
  std::vector<at::Tensor> cell_anchors_;
  std::vector<int64_t> strides_;
  std::unique_ptr<PoolerSpec> box_pooler_, mask_pooler_, keypoint_pooler_;
  std::vector<std::string> fields_;
};

class RcnnRewriter : public Rewriter {
 public:
  std::vector<std::string> flavors() const override { return {"generic"}; }
  absl::StatusOr<std::unique_ptr<TraceableModel>> Rewrite(Model& model,
                                                          const RewriteOptions& options) override;
};

// The traceable model directly, for tests and other plugins built on GeneralizedRcnn.
absl::StatusOr<std::unique_ptr<TraceableModel>> RewriteGeneralizedRcnn(
    GeneralizedRcnn& model, const RewriteOptions& options);

}  // namespace d2x::rcnn

#endif  // D2X_PLUGINS_ARCH_RCNN_REWRITER_H_
