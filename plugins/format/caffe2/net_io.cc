#include "plugins/format/caffe2/net_io.h"

#include <ATen/ATen.h>
#include <google/protobuf/text_format.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace d2x::caffe2_format {
namespace {

using d2x::caffe2::Argument;
using d2x::caffe2::NetDef;
using d2x::caffe2::OperatorDef;

absl::Status WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot open ", path, " for writing"));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("failed writing ", path));
  return absl::OkStatus();
}

std::string JoinPath(const std::string& dir, const std::string& file) {
  return dir.empty() || dir.back() == '/' ? dir + file : dir + "/" + file;
}

}  // namespace

Argument* AddArg(OperatorDef* op, const std::string& name) {
  Argument* arg = op->add_arg();
  arg->set_name(name);
  return arg;
}

const Argument* FindArg(const OperatorDef& op, const std::string& name) {
  for (const Argument& arg : op.arg()) {
    if (arg.name() == name) return &arg;
  }
  return nullptr;
}

absl::Status SaveProtobuf(const Caffe2Nets& nets, const std::string& dir) {
  std::string predict_bytes, init_bytes, text;
  if (!nets.predict_net.SerializeToString(&predict_bytes) ||
      !nets.init_net.SerializeToString(&init_bytes)) {
    return absl::InternalError("cannot serialize the Caffe2 nets (missing required fields?)");
  }
  if (!google::protobuf::TextFormat::PrintToString(nets.predict_net, &text)) {
    return absl::InternalError("cannot print the predict_net in text format");
  }
  if (auto s = WriteFile(JoinPath(dir, kPredictNetFile), predict_bytes); !s.ok()) return s;
  if (auto s = WriteFile(JoinPath(dir, kInitNetFile), init_bytes); !s.ok()) return s;
  return WriteFile(JoinPath(dir, kPredictNetTextFile), text);
}

absl::StatusOr<NetDef> ReadNetDef(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open Caffe2 net ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  NetDef net;
  if (!net.ParseFromString(buffer.str())) {
    return absl::DataLossError(absl::StrCat(path, " is not a valid Caffe2 NetDef (binary protobuf ",
                                            "parse failed; truncated or corrupt file?)"));
  }
  return net;
}

absl::StatusOr<NetDef> ParseNetDefText(const std::string& text) {
  NetDef net;
  if (!google::protobuf::TextFormat::ParseFromString(text, &net)) {
    return absl::InvalidArgumentError("text is not a valid Caffe2 NetDef in protobuf text format");
  }
  return net;
}

absl::StatusOr<Caffe2Nets> LoadProtobuf(const std::string& dir) {
  Caffe2Nets nets;
  auto predict = ReadNetDef(JoinPath(dir, kPredictNetFile));
  if (!predict.ok()) return predict.status();
  auto init = ReadNetDef(JoinPath(dir, kInitNetFile));
  if (!init.ok()) return init.status();
  nets.predict_net = *std::move(predict);
  nets.init_net = *std::move(init);
  return nets;
}

absl::StatusOr<OperatorDef> MakeFillOp(const std::string& name, const at::Tensor& tensor) {
  at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  OperatorDef op;
  op.add_output(name);
  Argument* shape = AddArg(&op, "shape");
  for (int64_t d : t.sizes()) shape->add_ints(d);
  Argument* values = AddArg(&op, "values");
  const int64_t n = t.numel();
  switch (t.scalar_type()) {
    case at::kFloat: {
      op.set_type("GivenTensorFill");
      const float* p = t.data_ptr<float>();
      values->mutable_floats()->Reserve(static_cast<int>(n));
      for (int64_t i = 0; i < n; ++i) values->add_floats(p[i]);
      break;
    }
    case at::kLong: {
      op.set_type("GivenTensorInt64Fill");
      const int64_t* p = t.data_ptr<int64_t>();
      for (int64_t i = 0; i < n; ++i) values->add_ints(p[i]);
      break;
    }
    case at::kInt: {
      op.set_type("GivenTensorIntFill");
      const int32_t* p = t.data_ptr<int32_t>();
      for (int64_t i = 0; i < n; ++i) values->add_ints(p[i]);
      break;
    }
    case at::kBool: {
      op.set_type("GivenTensorBoolFill");
      const bool* p = t.data_ptr<bool>();
      for (int64_t i = 0; i < n; ++i) values->add_ints(p[i] ? 1 : 0);
      break;
    }
    default:
      return absl::UnimplementedError(absl::StrCat("blob ", name, ": no Caffe2 fill op for dtype ",
                                                   std::string(c10::toString(t.scalar_type()))));
  }
  return op;
}

absl::StatusOr<at::Tensor> RunFillOp(const OperatorDef& op) {
  const Argument* shape = FindArg(op, "shape");
  const Argument* values = FindArg(op, "values");
  if (shape == nullptr || values == nullptr || op.output_size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(op.type(), " op for '",
                                                   op.output_size() ? op.output(0) : "",
                                                   "' needs one output and args shape, values"));
  }
  std::vector<int64_t> dims(shape->ints().begin(), shape->ints().end());
  int64_t numel = 1;
  for (int64_t d : dims) numel *= d;
  at::Tensor out;
  int64_t count = 0;
  if (op.type() == "GivenTensorFill") {
    count = values->floats_size();
    if (count == numel) {
      out = at::empty(dims, at::kFloat);
      if (numel) std::memcpy(out.data_ptr<float>(), values->floats().data(), numel * sizeof(float));
    }
  } else if (op.type() == "GivenTensorInt64Fill" || op.type() == "GivenTensorIntFill" ||
             op.type() == "GivenTensorBoolFill") {
    count = values->ints_size();
    if (count == numel) {
      out = at::empty(dims, at::kLong);
      if (numel) std::memcpy(out.data_ptr<int64_t>(), values->ints().data(), numel * sizeof(int64_t));
      if (op.type() == "GivenTensorIntFill") out = out.to(at::kInt);
      if (op.type() == "GivenTensorBoolFill") out = out.to(at::kBool);
    }
  } else {
    return absl::UnimplementedError(absl::StrCat("unsupported init op type ", op.type()));
  }
  if (count != numel) {
    return absl::InvalidArgumentError(absl::StrCat(op.type(), " for '", op.output(0), "': ", count,
                                                   " values for shape of ", numel, " elements"));
  }
  return out;
}

}  // namespace d2x::caffe2_format
