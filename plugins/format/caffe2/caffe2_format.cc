#include "plugins/format/caffe2/caffe2_format.h"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/caffe2_ops/c2_detections.h"
#include "core/export/detector_io.h"
#include "core/export/manifest.h"
#include "core/ops/detection_ops.h"
#include "plugins/format/caffe2/graph_converter.h"
#include "plugins/format/caffe2/net_executor.h"
#include "plugins/format/caffe2/net_io.h"
#include "plugins/format/caffe2/net_svg.h"
#include "plugins/format/caffe2/onnx_caffe2.h"

namespace d2x::caffe2_format {
namespace fs = std::filesystem;
namespace {

using d2x::caffe2::Argument;
using d2x::caffe2::NetDef;

// Post-processing ops whose constants the converter keeps in the predict_net (the runner repeats
// them after the net).
const std::vector<std::string>& RecordedOps() {
  static const std::vector<std::string> kOps = {
      ops::kPasteMasksOp, ops::kDenseDetectionsOp, ops::kPanopticCombineOp};
  return kOps;
}

bool HasOutput(const NetDef& net, const std::string& name) {
  for (const std::string& o : net.external_output()) {
    if (o == name) return true;
  }
  return false;
}

// detectron2's meta architecture, from the net's outputs.
std::string MetaArchitecture(const NetDef& net) {
  if (HasOutput(net, c2ops::kSemSegBlob)) return "PanopticFPN";
  if (HasOutput(net, c2ops::kBboxNmsBlob)) return "GeneralizedRCNN";
  if (HasOutput(net, "box_cls_0")) return "RetinaNet";
  return "";
}

void SetArg(NetDef* net, const std::string& name, int64_t i) {
  Argument* a = net->add_arg();
  a->set_name(name);
  a->set_i(i);
}
void SetArg(NetDef* net, const std::string& name, const std::string& s) {
  Argument* a = net->add_arg();
  a->set_name(name);
  a->set_s(s);
}

const Argument* NetArg(const NetDef& net, const std::string& name) {
  for (const Argument& a : net.arg()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

// The net inputs for detector-contract inputs: data with the padding set to `pixel_mean` (empty:
// left as is), im_info as detectron2 builds it.
absl::StatusOr<std::vector<at::Tensor>> NetInputs(const std::vector<at::Tensor>& inputs,
                                                  const std::vector<double>& pixel_mean) {
  if (inputs.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "caffe2: expected 3 inputs (images, image_sizes, output_sizes), got ", inputs.size()));
  }
  const at::Tensor& images = inputs[0];
  if (images.dim() != 4 || images.size(1) != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("caffe2: images must be [N, 3, H, W], got ", images.sizes().vec().size(),
                     "-d"));
  }
  at::Tensor data = images.to(at::kFloat).contiguous();
  const at::Tensor sizes = inputs[1].to(at::kLong).contiguous();
  if (!pixel_mean.empty()) {
    if (pixel_mean.size() != 3) {
      return absl::InvalidArgumentError("caffe2: the manifest's pixel_mean must have 3 values");
    }
    data = data.clone();
    const at::Tensor mean = at::tensor(pixel_mean, at::kFloat).view({3, 1, 1});
    for (int64_t i = 0; i < data.size(0); ++i) {
      const int64_t h = sizes[i][0].item<int64_t>(), w = sizes[i][1].item<int64_t>();
      at::Tensor image = data[i];
      image.slice(1, h).copy_(mean.expand({3, image.size(1) - h, image.size(2)}));
      image.slice(1, 0, h).slice(2, w).copy_(mean.expand({3, h, image.size(2) - w}));
    }
  }
  return std::vector<at::Tensor>{data, c2ops::MakeImInfo(inputs[1], inputs[2])};
}

class Caffe2Session : public Session {
 public:
  Caffe2Session(NetExecutor executor, std::vector<double> pixel_mean,
                std::vector<std::string> output_names)
      : executor_(std::move(executor)),
        pixel_mean_(std::move(pixel_mean)),
        output_names_(std::move(output_names)),
        keypoint_columns_(at::tensor({0, 1, 3}, at::kLong)) {}

  absl::StatusOr<std::vector<at::Tensor>> Run(const std::vector<at::Tensor>& inputs) override {
    try {
      c10::NoGradGuard no_grad;
      absl::StatusOr<std::vector<at::Tensor>> net_inputs = NetInputs(inputs, pixel_mean_);
      if (!net_inputs.ok()) return net_inputs.status();
      absl::StatusOr<std::vector<at::Tensor>> outs = executor_.Run(*net_inputs);
      if (!outs.ok()) return outs.status();
      const NetDef& net = executor_.nets().predict_net;
      std::map<std::string, at::Tensor> named;
      for (int i = 0; i < net.external_output_size(); ++i) named[net.external_output(i)] = (*outs)[i];
      absl::StatusOr<std::map<std::string, at::Tensor>> fields =
          ToFields(named, inputs[1], inputs[2]);
      if (!fields.ok()) return fields.status();
      std::vector<at::Tensor> result;
      for (const std::string& name : output_names_) {
        if (name == exporting::kImageSizeOutput) {
          result.push_back(inputs[2]);
          continue;
        }
        auto it = fields->find(name);
        if (it == fields->end()) {
          return absl::InternalError(absl::StrCat("caffe2: the net's outputs give no '", name,
                                                  "' (the manifest's outputs)"));
        }
        result.push_back(it->second);
      }
      return result;
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat("caffe2: post-processing failed: ", e.what_without_backtrace()));
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("caffe2: post-processing failed: ", e.what()));
    }
  }

 private:
  double FloatArg(const std::string& name, double fallback) const {
    const Argument* a = NetArg(executor_.nets().predict_net, name);
    return a != nullptr && a->has_f() ? a->f() : fallback;
  }

  absl::StatusOr<std::map<std::string, at::Tensor>> ToFields(
      const std::map<std::string, at::Tensor>& net, const at::Tensor& image_sizes,
      const at::Tensor& output_sizes) {
    const std::string arch = MetaArchitecture(executor_.nets().predict_net);
    if (arch == "GeneralizedRCNN") {
      return c2ops::RcnnNetOutputsToFields(net, image_sizes, output_sizes,
                                           FloatArg("paste_masks.threshold", 0.5),
                                           keypoint_columns_);
    }
    if (arch == "RetinaNet") return RetinaNetFields(net, image_sizes, output_sizes);
    if (arch == "PanopticFPN") {
      const std::string p = "panoptic_combine.";
      if (NetArg(executor_.nets().predict_net, p + "overlap_threshold") == nullptr) {
        return absl::DataLossError("caffe2: PanopticFPN net without panoptic_combine.* args");
      }
      return c2ops::PanopticNetOutputsToFields(
          net, image_sizes, output_sizes, FloatArg("paste_masks.threshold", 0.5),
          keypoint_columns_, FloatArg(p + "overlap_threshold", 0.0),
          FloatArg(p + "stuff_area_thresh", 0.0), FloatArg(p + "instances_score_thresh", 0.0));
    }
    return absl::UnimplementedError(
        "caffe2: the net's outputs match no supported architecture (bbox_nms / box_cls_0)");
  }

  absl::StatusOr<std::map<std::string, at::Tensor>> RetinaNetFields(
      const std::map<std::string, at::Tensor>& net, const at::Tensor& image_sizes,
      const at::Tensor& output_sizes) {
    const NetDef& pn = executor_.nets().predict_net;
    const std::string p = "dense_detections.";
    const Argument* levels = NetArg(pn, p + "cell_anchors.size");
    if (levels == nullptr) {
      return absl::DataLossError("caffe2: RetinaNet net without dense_detections.* arguments");
    }
    std::vector<at::Tensor> cls, deltas, anchors;
    for (int64_t l = 0; l < levels->i(); ++l) {
      auto c = net.find(absl::StrCat("box_cls_", l));
      auto d = net.find(absl::StrCat("box_delta_", l));
      auto a = executor_.blobs().find(absl::StrCat(p, "cell_anchors.", l));
      if (c == net.end() || d == net.end() || a == executor_.blobs().end()) {
        return absl::DataLossError(absl::StrCat("caffe2: RetinaNet level ", l,
                                                " is missing box_cls / box_delta / anchors"));
      }
      cls.push_back(c->second);
      deltas.push_back(d->second);
      anchors.push_back(a->second);
    }
    auto ints = [&](const std::string& name) {
      const Argument* a = NetArg(pn, p + name);
      return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : std::vector<int64_t>{};
    };
    auto floats = [&](const std::string& name) {
      const Argument* a = NetArg(pn, p + name);
      return a ? std::vector<double>(a->floats().begin(), a->floats().end())
               : std::vector<double>{};
    };
    auto number = [&](const std::string& name) -> double {
      const Argument* a = NetArg(pn, p + name);
      if (a == nullptr) return 0.0;
      return a->has_f() ? a->f() : static_cast<double>(a->i());
    };
    auto [boxes, scores, classes, batch_index] = ops::DenseDetections(
        cls, deltas, anchors, ints("strides"), number("offset"), image_sizes,
        static_cast<int64_t>(number("num_classes")), floats("bbox_reg_weights"),
        number("scale_clamp"), number("score_thresh"),
        static_cast<int64_t>(number("topk_candidates")), number("nms_thresh"),
        static_cast<int64_t>(number("max_detections")));
    auto [out_boxes, scales, keep, num_instances] =
        ops::DetectorPostprocess(boxes, batch_index, image_sizes, output_sizes);
    return std::map<std::string, at::Tensor>{
        {"pred_boxes", out_boxes.index_select(0, keep)},
        {"pred_classes", classes.index_select(0, keep)},
        {"scores", scores.index_select(0, keep)},
        {exporting::kNumInstancesOutput, num_instances}};
  }

  NetExecutor executor_;
  std::vector<double> pixel_mean_;
  std::vector<std::string> output_names_;
  at::Tensor keypoint_columns_;
};

}  // namespace

namespace {

struct CheckedNets {
  Caffe2Nets nets;
  std::map<std::string, at::Tensor> blobs;  // after a run on the sample
};

// The trace -> nets conversion shared by both formats, with detectron2's pb args, run once on
// the sample (a check, and the shapes for the drawing).
absl::StatusOr<CheckedNets> ConvertAndCheck(const ExportRequest& request, const char* format) {
  if (request.traceable == nullptr || request.traced == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(format, ": the request has no traced model"));
  }
  if (!request.method.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(format, ": unknown method '", request.method, "' (the format has none)"));
  }
  for (const auto& [key, value] : request.options) {
    return absl::InvalidArgumentError(
        absl::StrCat(format, ": unknown option '", key, "' (the format has no options)"));
  }
  ConvertOptions options;
  options.net_name = "d2x";
  options.net_inputs = {c2ops::kDataBlob, c2ops::kImInfoBlob};
  options.sample_inputs = request.sample_inputs;
  options.record_ops = RecordedOps();
  absl::StatusOr<Caffe2Nets> nets = ConvertModule(*request.traced, options);
  if (!nets.ok()) {
    return absl::Status(nets.status().code(),
                        absl::StrCat(format, ": converting the caffe2-flavor trace: ",
                                     nets.status().message()));
  }
  const std::string arch = MetaArchitecture(nets->predict_net);
  if (arch.empty()) {
    return absl::UnimplementedError(absl::StrCat(
        format, ": the converted net's outputs (",
        absl::StrJoin(nets->predict_net.external_output(), ", "),
        ") match no architecture the caffe2 runner post-processes"));
  }
  // detectron2's encode_additional_info.
  SetArg(&nets->predict_net, "size_divisibility",
         std::max<int64_t>(request.traceable->input_padding().size_divisibility, 0));
  SetArg(&nets->predict_net, "device", std::string("cpu"));
  SetArg(&nets->predict_net, "meta_architecture", arch);
  absl::StatusOr<NetExecutor> executor = NetExecutor::Create(*nets);
  if (!executor.ok()) return executor.status();
  absl::StatusOr<std::vector<at::Tensor>> net_inputs = NetInputs(request.sample_inputs, {});
  if (!net_inputs.ok()) return net_inputs.status();
  absl::StatusOr<std::vector<at::Tensor>> ran = executor->Run(*net_inputs);
  if (!ran.ok()) {
    return absl::Status(ran.status().code(),
                        absl::StrCat(format, ": the converted net failed on the sample input: ",
                                     ran.status().message()));
  }
  return CheckedNets{*std::move(nets), executor->blobs()};
}

void DescribeNets(const NetDef& net, ArtifactInfo* info) {
  info->properties["net_inputs"] = absl::StrJoin(net.external_input().begin(),
                                                 net.external_input().begin() + 2, ", ");
  info->properties["net_outputs"] = absl::StrJoin(net.external_output(), ", ");
  info->properties["net_ops"] = std::to_string(net.op_size());
}

// A session on nets read from an artifact (either format).
absl::StatusOr<std::unique_ptr<Session>> LoadSession(const std::string& artifact_dir,
                                                     const char* format,
                                                     const std::string& model_file,
                                                     absl::StatusOr<Caffe2Nets> nets) {
  absl::StatusOr<exporting::Manifest> manifest = exporting::ReadManifest(artifact_dir);
  if (!manifest.ok()) return manifest.status();
  if (manifest->format != format) {
    return absl::InvalidArgumentError(absl::StrCat("artifact ", artifact_dir, " is in format '",
                                                   manifest->format, "', not ", format));
  }
  if (!nets.ok()) return nets.status();
  absl::StatusOr<NetExecutor> executor = NetExecutor::Create(*std::move(nets));
  if (!executor.ok()) return executor.status();
  const std::vector<std::string> wanted = {c2ops::kDataBlob, c2ops::kImInfoBlob};
  if (executor->input_names() != wanted) {
    return absl::DataLossError(absl::StrCat(
        artifact_dir, "/", model_file, ": the net's inputs are (",
        absl::StrJoin(executor->input_names(), ", "), "), expected (data, im_info)"));
  }
  if (MetaArchitecture(executor->nets().predict_net).empty()) {
    return absl::DataLossError(absl::StrCat(artifact_dir, "/", model_file,
                                            ": the net's outputs match no supported "
                                            "architecture"));
  }
  return std::unique_ptr<Session>(new Caffe2Session(
      *std::move(executor), manifest->preprocessing.pixel_mean, manifest->output_names()));
}

}  // namespace

absl::StatusOr<ArtifactInfo> Caffe2Exporter::Export(const ExportRequest& request) {
  absl::StatusOr<CheckedNets> checked = ConvertAndCheck(request, kFormatName);
  if (!checked.ok()) return checked.status();
  if (absl::Status s = SaveProtobuf(checked->nets, request.output_dir); !s.ok()) return s;
  if (absl::Status s = SaveGraph(checked->nets.predict_net,
                                 (fs::path(request.output_dir) / kSvgFile).string(),
                                 &checked->blobs);
      !s.ok()) {
    return s;
  }
  ArtifactInfo info;
  info.model_file = kPredictNetFile;
  info.files = {kPredictNetFile, kInitNetFile, kPredictNetTextFile, kSvgFile};
  DescribeNets(checked->nets.predict_net, &info);
  info.properties["entry_point"] =
      "Caffe2 predict_net (model.pb) after init_net (model_init.pb); inputs data [N,3,H,W] "
      "float raw pixels padded to size_divisibility, im_info [N,3] (height, width, scale)";
  return info;
}

absl::StatusOr<std::unique_ptr<Session>> Caffe2Runner::Load(const std::string& artifact_dir) {
  return LoadSession(artifact_dir, kFormatName, kPredictNetFile, LoadProtobuf(artifact_dir));
}

absl::StatusOr<ArtifactInfo> OnnxCaffe2Exporter::Export(const ExportRequest& request) {
  absl::StatusOr<CheckedNets> checked = ConvertAndCheck(request, kOnnxFormatName);
  if (!checked.ok()) return checked.status();
  absl::StatusOr<onnx::ModelProto> model = NetsToOnnx(checked->nets);
  if (!model.ok()) return model.status();
  const std::string path = (fs::path(request.output_dir) / kOnnxModelFile).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !model->SerializeToOstream(&out)) {
    return absl::InternalError(absl::StrCat(kOnnxFormatName, ": cannot write ", path));
  }
  out.close();
  ArtifactInfo info;
  info.model_file = kOnnxModelFile;
  info.files = {kOnnxModelFile};
  DescribeNets(checked->nets.predict_net, &info);
  info.properties["onnx_domains"] = absl::StrCat("ai.onnx (opset 13), ", kCaffe2OnnxDomain);
  info.properties["entry_point"] =
      "ONNX graph with Caffe2 custom-domain ops; inputs data [N,3,H,W] float raw pixels padded "
      "to size_divisibility, im_info [N,3] (height, width, scale)";
  return info;
}

absl::StatusOr<std::unique_ptr<Session>> OnnxCaffe2Runner::Load(const std::string& artifact_dir) {
  const fs::path path = fs::path(artifact_dir) / kOnnxModelFile;
  absl::StatusOr<Caffe2Nets> nets = [&]() -> absl::StatusOr<Caffe2Nets> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
    onnx::ModelProto model;
    if (!model.ParseFromIstream(&in)) {
      return absl::DataLossError(absl::StrCat(path.string(), ": not a valid ONNX ModelProto"));
    }
    absl::StatusOr<Caffe2Nets> n = OnnxToNets(model);
    if (!n.ok()) {
      return absl::Status(n.status().code(),
                          absl::StrCat(path.string(), ": ", n.status().message()));
    }
    return n;
  }();
  return LoadSession(artifact_dir, kOnnxFormatName, kOnnxModelFile, std::move(nets));
}

}  // namespace d2x::caffe2_format
