// The Caffe2 format: exporter and runner (detectron2's Caffe2Tracer.export_caffe2 /
// Caffe2Model, without Caffe2; issue #8).
//
// Artifact:
//   model.pb, model_init.pb, model.pbtxt  predict_net / init_net (net_io.h), converted from the
//                 trace of the "caffe2" rewrite flavor: the part between the AliasWithName marks
//                 (graph_converter.h, cut mode). External inputs `data` [N, 3, Hp, Wp] (raw
//                 pixels, Hp and Wp multiples of the size divisibility) and `im_info` [N, 3]
//                 (height, width, output height / height); external outputs in detectron2's
//                 names (R-CNN: bbox_nms, score_nms, class_nms [, mask_fcn_probs],
//                 batch_splits_nms; RetinaNet: box_cls_<i>, box_delta_<i>). predict_net args:
//                 size_divisibility, device, meta_architecture (detectron2's
//                 encode_additional_info) and the post-processing constants "<op>.<arg>".
//   model.svg     graphviz drawing of the predict_net, blobs annotated with their shapes on the
//                 sample input.
//
// The runner presents the detector I/O contract (core/export/detector_io.h), like detectron2's
// Caffe2Model.__call__: it builds data (padding filled with the pixel mean, so the in-net
// normalization gives detectron2's zero padding) and im_info from the images, runs the nets with
// the d2x executor (net_executor.h) and converts the outputs to detections with the d2x ops
// (core/caffe2_ops/c2_detections.h). Batches of any size work (detectron2's Caffe2Model takes one
// image).
#ifndef D2X_PLUGINS_FORMAT_CAFFE2_CAFFE2_FORMAT_H_
#define D2X_PLUGINS_FORMAT_CAFFE2_CAFFE2_FORMAT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/exporter.h"

namespace d2x::caffe2_format {

inline constexpr char kFormatName[] = "caffe2";
inline constexpr char kSvgFile[] = "model.svg";
// `onnx-caffe2`: the same nets as one ONNX model with Caffe2 custom-domain ops (onnx_caffe2.h),
// like detectron2's Caffe2Tracer.export_onnx; the runner converts it back and runs the nets.
inline constexpr char kOnnxFormatName[] = "onnx-caffe2";
inline constexpr char kOnnxModelFile[] = "model.onnx";

class Caffe2Exporter : public Exporter {
 public:
  std::string rewrite_flavor() const override { return "caffe2"; }
  absl::StatusOr<ArtifactInfo> Export(const ExportRequest& request) override;
};

class Caffe2Runner : public Runner {
 public:
  absl::StatusOr<std::unique_ptr<Session>> Load(const std::string& artifact_dir) override;
};

class OnnxCaffe2Exporter : public Exporter {
 public:
  std::string rewrite_flavor() const override { return "caffe2"; }
  absl::StatusOr<ArtifactInfo> Export(const ExportRequest& request) override;
};

class OnnxCaffe2Runner : public Runner {
 public:
  absl::StatusOr<std::unique_ptr<Session>> Load(const std::string& artifact_dir) override;
};

}  // namespace d2x::caffe2_format

#endif  // D2X_PLUGINS_FORMAT_CAFFE2_CAFFE2_FORMAT_H_
