// Caffe2 nets on disk, as detectron2's Caffe2Model.save_protobuf / load_protobuf:
//   model.pb       predict_net (NetDef, binary)
//   model_init.pb  init_net (NetDef, binary): one GivenTensor*Fill op per parameter blob
//   model.pbtxt    predict_net in protobuf text format
// and the helpers that turn tensors into init_net fill ops and back.
#ifndef D2X_PLUGINS_FORMAT_CAFFE2_NET_IO_H_
#define D2X_PLUGINS_FORMAT_CAFFE2_NET_IO_H_

#include <ATen/core/Tensor.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "plugins/format/caffe2/d2x_caffe2.pb.h"

namespace d2x::caffe2_format {

inline constexpr char kPredictNetFile[] = "model.pb";
inline constexpr char kInitNetFile[] = "model_init.pb";
inline constexpr char kPredictNetTextFile[] = "model.pbtxt";

struct Caffe2Nets {
  d2x::caffe2::NetDef predict_net;
  d2x::caffe2::NetDef init_net;
};

// Writes model.pb, model_init.pb and model.pbtxt into `dir` (which must exist).
absl::Status SaveProtobuf(const Caffe2Nets& nets, const std::string& dir);

// Reads model.pb and model_init.pb from `dir`; errors name the file and what is wrong.
absl::StatusOr<Caffe2Nets> LoadProtobuf(const std::string& dir);

// Parses a binary NetDef file / a text-format NetDef string.
absl::StatusOr<d2x::caffe2::NetDef> ReadNetDef(const std::string& path);
absl::StatusOr<d2x::caffe2::NetDef> ParseNetDefText(const std::string& text);

// The init_net op that creates blob `name` holding `tensor` (contiguous CPU copy):
// float32 -> GivenTensorFill, int64 -> GivenTensorInt64Fill, int32 -> GivenTensorIntFill,
// bool -> GivenTensorBoolFill; args "shape" (ints) and "values". Other dtypes: error.
absl::StatusOr<d2x::caffe2::OperatorDef> MakeFillOp(const std::string& name,
                                                    const at::Tensor& tensor);

// The tensor a GivenTensor*Fill op creates (inverse of MakeFillOp).
absl::StatusOr<at::Tensor> RunFillOp(const d2x::caffe2::OperatorDef& op);

// Argument helpers.
d2x::caffe2::Argument* AddArg(d2x::caffe2::OperatorDef* op, const std::string& name);
const d2x::caffe2::Argument* FindArg(const d2x::caffe2::OperatorDef& op, const std::string& name);

}  // namespace d2x::caffe2_format

#endif  // D2X_PLUGINS_FORMAT_CAFFE2_NET_IO_H_
