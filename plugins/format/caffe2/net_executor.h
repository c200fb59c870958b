// A small Caffe2 net interpreter on LibTorch: runs init_net then predict_net on a blob map,
// without Caffe2. Supports the ops graph_converter emits (GivenTensor*Fill, Conv, ConvTranspose,
// Relu, Sigmoid, Add, Sub, Mul, Div, MaxPool, ResizeNearest, Concat, FC, Flatten, Softmax,
// RoIAlign — the last through the d2x::roi_align op, which must be registered in the process).
// An unknown op type, a missing blob or a missing argument is an error naming the op.
#ifndef D2X_PLUGINS_FORMAT_CAFFE2_NET_EXECUTOR_H_
#define D2X_PLUGINS_FORMAT_CAFFE2_NET_EXECUTOR_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "plugins/format/caffe2/net_io.h"

namespace d2x::caffe2_format {

class NetExecutor {
 public:
  // Runs the init_net once (parameter blobs).
  static absl::StatusOr<NetExecutor> Create(Caffe2Nets nets);
  static absl::StatusOr<NetExecutor> Load(const std::string& dir);  // LoadProtobuf + Create

  // Feeds `inputs` to the predict_net's external inputs that the init_net does not produce (in
  // order), runs every op and returns the external outputs.
  absl::StatusOr<std::vector<at::Tensor>> Run(const std::vector<at::Tensor>& inputs);

  // Blobs after the last Run (workspace), e.g. for shape annotations.
  const std::map<std::string, at::Tensor>& blobs() const { return blobs_; }
  const Caffe2Nets& nets() const { return nets_; }
  const std::vector<std::string>& input_names() const { return input_names_; }

 private:
  absl::Status RunOp(const d2x::caffe2::OperatorDef& op, int index);

  Caffe2Nets nets_;
  std::map<std::string, at::Tensor> params_;
  std::map<std::string, at::Tensor> blobs_;
  std::vector<std::string> input_names_;
};

}  // namespace d2x::caffe2_format

#endif  // D2X_PLUGINS_FORMAT_CAFFE2_NET_EXECUTOR_H_
