// Caffe2 format foundation: traced conv net -> NetDef -> files -> executor == LibTorch.
#include <ATen/ATen.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/ops/ops.h"
#include "core/trace/trace.h"
#include "plugins/format/caffe2/graph_converter.h"
#include "plugins/format/caffe2/net_executor.h"
#include "plugins/format/caffe2/net_io.h"
#include "plugins/format/caffe2/net_svg.h"

namespace d2x::caffe2_format {
namespace {

struct Weights {
  at::Tensor w1 = at::randn({8, 3, 3, 3}), b1 = at::randn({8});
  at::Tensor w2 = at::randn({8, 8, 3, 3}), b2 = at::randn({8});
  at::Tensor wt = at::randn({8, 4, 2, 2}), bt = at::randn({4});
  at::Tensor fc_w = at::randn({5, 8 * 2 * 2}), fc_b = at::randn({5});
  at::Tensor mean = at::tensor({100.f, 110.f, 120.f}).view({1, 3, 1, 1});
};

// Uses every op the converter maps: Sub/Div (normalization), Conv, Relu, MaxPool, Add, Mul,
// ResizeNearest, Concat, ConvTranspose, Sigmoid, RoIAlign, Flatten, FC, Softmax.
std::vector<at::Tensor> Forward(const Weights& w, const std::vector<at::Tensor>& in) {
  at::Tensor x = (in[0] - w.mean) / 50.0;
  at::Tensor c1 = at::relu(at::conv2d(x, w.w1, w.b1, {1, 1}, {1, 1}));
  at::Tensor p = at::max_pool2d(c1, {2, 2}, {2, 2});
  at::Tensor c2 = at::relu(at::conv2d(p, w.w2, w.b2, {1, 1}, {1, 1}) + p) * 0.5;
  // As F.interpolate(scale_factor=2) in detectron2's FPN: constant scale factors in the trace.
  const std::vector<double> scales = {2.0, 2.0};
  at::Tensor up = at::upsample_nearest2d(c2, c10::nullopt, at::ArrayRef<double>(scales));
  at::Tensor cat = at::cat({up, c1}, 1);
  at::Tensor tr = at::sigmoid(at::conv_transpose2d(c2, w.wt, w.bt, {2, 2}));
  at::Tensor pooled = d2x::ops::RoiAlign(c2, in[1], 0.5, 2, 2, 2, true);
  at::Tensor logits = at::linear(at::flatten(pooled, 1), w.fc_w, w.fc_b);
  return {cat, tr, at::softmax(logits, -1)};
}

std::vector<at::Tensor> Inputs(int64_t h, int64_t w) {
  at::Tensor data = at::rand({1, 3, h, w}) * 255;
  at::Tensor rois = at::tensor({0.f, 1.f, 2.f, 10.f, 12.f, 0.f, 4.f, 4.f, 15.f, 9.f}).view({2, 5});
  return {data, rois};
}

class Caffe2FormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::manual_seed(0);
    weights_ = std::make_unique<Weights>();
    inputs_ = Inputs(16, 16);
    auto fn = [this](const std::vector<at::Tensor>& in) { return Forward(*weights_, in); };
    auto module = d2x::trace::TraceToModule(fn, inputs_, {"data", "rois"}, "Caffe2TestNet");
    ASSERT_TRUE(module.ok()) << module.status();
    module_ = std::make_unique<torch::jit::Module>(*std::move(module));
    ConvertOptions options;
    options.net_name = "test_net";
    options.input_names = {"data", "rois"};
    options.output_names = {"cat_out", "deconv_out", "cls_prob"};
    options.sample_inputs = inputs_;
    auto nets = ConvertModule(*module_, options);
    ASSERT_TRUE(nets.ok()) << nets.status();
    nets_ = *std::move(nets);
    dir_ = std::filesystem::path(::testing::TempDir()) / "caffe2_format_test";
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  static void ExpectSame(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].sizes(), b[i].sizes()) << "output " << i;
      EXPECT_LE((a[i] - b[i]).abs().max().item<double>(), 1e-6) << "output " << i;
    }
  }

  std::unique_ptr<Weights> weights_;
  std::vector<at::Tensor> inputs_;
  std::unique_ptr<torch::jit::Module> module_;
  Caffe2Nets nets_;
  std::filesystem::path dir_;
};

TEST_F(Caffe2FormatTest, ConvertsEveryOpWithCaffe2Names) {
  std::vector<std::string> types;
  for (const auto& op : nets_.predict_net.op()) types.push_back(op.type());
  for (const char* t : {"Sub", "Div", "Conv", "Relu", "MaxPool", "Add", "Mul", "ResizeNearest",
                        "Concat", "ConvTranspose", "Sigmoid", "RoIAlign", "Flatten", "FC",
                        "Softmax"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
  }
  EXPECT_EQ(nets_.predict_net.external_input(0), "data");
  EXPECT_EQ(nets_.predict_net.external_input(1), "rois");
  ASSERT_EQ(nets_.predict_net.external_output_size(), 3);
  EXPECT_EQ(nets_.predict_net.external_output(2), "cls_prob");
  for (const auto& op : nets_.predict_net.op()) {
    if (op.type() != "RoIAlign") continue;
    EXPECT_EQ(FindArg(op, "aligned")->i(), 1);
    EXPECT_EQ(FindArg(op, "pooled_h")->i(), 2);
    EXPECT_EQ(FindArg(op, "sampling_ratio")->i(), 2);
    EXPECT_FLOAT_EQ(FindArg(op, "spatial_scale")->f(), 0.5f);
    EXPECT_EQ(FindArg(op, "order")->s(), "NCHW");
  }
  // Every parameter is a GivenTensorFill in the init_net.
  ASSERT_GE(nets_.init_net.op_size(), 9);
  for (const auto& op : nets_.init_net.op()) {
    EXPECT_TRUE(op.type().rfind("GivenTensor", 0) == 0) << op.type();
  }
}

TEST_F(Caffe2FormatTest, ExecutorMatchesLibTorchAfterSaveAndLoad) {
  ASSERT_TRUE(SaveProtobuf(nets_, dir_.string()).ok());
  for (const char* f : {kPredictNetFile, kInitNetFile, kPredictNetTextFile}) {
    EXPECT_TRUE(std::filesystem::exists(dir_ / f)) << f;
  }
  auto executor = NetExecutor::Load(dir_.string());
  ASSERT_TRUE(executor.ok()) << executor.status();
  EXPECT_EQ(executor->input_names(), (std::vector<std::string>{"data", "rois"}));
  for (auto [h, w] : {std::pair<int64_t, int64_t>{16, 16}, {32, 24}}) {
    std::vector<at::Tensor> in = Inputs(h, w);
    auto got = executor->Run(in);
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectSame(*got, Forward(*weights_, in));
    auto traced = d2x::trace::RunModule(*module_, in);
    ASSERT_TRUE(traced.ok()) << traced.status();
    ExpectSame(*got, *traced);
  }
}

TEST_F(Caffe2FormatTest, TextFormatParsesBackToTheSameNet) {
  ASSERT_TRUE(SaveProtobuf(nets_, dir_.string()).ok());
  std::ifstream in(dir_ / kPredictNetTextFile);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("type: \"RoIAlign\""), std::string::npos);
  auto parsed = ParseNetDefText(text.str());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->SerializeAsString(), nets_.predict_net.SerializeAsString());
  EXPECT_FALSE(ParseNetDefText("op { type: ").ok());
}

TEST_F(Caffe2FormatTest, CorruptProtobufIsAClearError) {
  ASSERT_TRUE(SaveProtobuf(nets_, dir_.string()).ok());
  {
    std::ofstream out(dir_ / kPredictNetFile, std::ios::binary | std::ios::trunc);
    out << "\xff\xff\xff garbage, not a NetDef";
  }
  auto executor = NetExecutor::Load(dir_.string());
  ASSERT_FALSE(executor.ok());
  EXPECT_NE(executor.status().message().find("model.pb"), std::string::npos) << executor.status();
  EXPECT_NE(executor.status().message().find("not a valid Caffe2 NetDef"), std::string::npos);

  std::filesystem::remove(dir_ / kInitNetFile);
  auto missing = LoadProtobuf(dir_.string());
  ASSERT_FALSE(missing.ok());

  // A structurally valid net with an unknown op fails at run time naming the op.
  Caffe2Nets nets = nets_;
  nets.predict_net.mutable_op(0)->set_type("NoSuchOp");
  auto ex = NetExecutor::Create(nets);
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto run = ex->Run(inputs_);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("NoSuchOp"), std::string::npos) << run.status();
}

TEST_F(Caffe2FormatTest, UnmappedNodeIsAnErrorNamingIt) {
  auto fn = [](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{at::tanh(in[0])};
  };
  auto module = d2x::trace::TraceToModule(fn, {at::rand({1, 3, 4, 4})}, {"data"}, "Tanh");
  ASSERT_TRUE(module.ok()) << module.status();
  auto nets = ConvertModule(*module, ConvertOptions{});
  ASSERT_FALSE(nets.ok());
  EXPECT_NE(nets.status().message().find("aten::tanh"), std::string::npos) << nets.status();
}

// Minimal XML well-formedness: tags balance (ignoring <?...?>, <!...>, self-closing tags).
bool TagsBalance(const std::string& xml, std::string* error) {
  std::vector<std::string> stack;
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string::npos) {
    const size_t end = xml.find('>', pos);
    if (end == std::string::npos) return *error = "unterminated tag", false;
    std::string tag = xml.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag.back() == '/') continue;
    const bool closing = tag[0] == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \t\n"));
    if (!closing) {
      stack.push_back(name);
    } else if (stack.empty() || stack.back() != name) {
      return *error = "mismatched </" + name + ">", false;
    } else {
      stack.pop_back();
    }
  }
  if (!stack.empty()) return *error = "unclosed <" + stack.back() + ">", false;
  return true;
}

TEST_F(Caffe2FormatTest, SvgIsWellFormedAndNamesEveryOp) {
  auto executor = NetExecutor::Create(nets_);
  ASSERT_TRUE(executor.ok()) << executor.status();
  ASSERT_TRUE(executor->Run(inputs_).ok());
  auto svg = RenderNetSvg(nets_.predict_net, &executor->blobs());
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_NE(svg->find("<svg"), std::string::npos);
  std::string error;
  EXPECT_TRUE(TagsBalance(*svg, &error)) << error;
  for (int i = 0; i < nets_.predict_net.op_size(); ++i) {
    const std::string label = nets_.predict_net.op(i).type() + " #" + std::to_string(i);
    EXPECT_NE(svg->find(label), std::string::npos) << label;
  }
  EXPECT_NE(svg->find("[1,3,16,16]"), std::string::npos);  // the data blob's shape
  const std::string path = (dir_ / "net.svg").string();
  ASSERT_TRUE(SaveGraph(nets_.predict_net, path).ok());
  EXPECT_GT(std::filesystem::file_size(path), 100u);
}

}  // namespace
}  // namespace d2x::caffe2_format

namespace d2x::caffe2_format {
namespace {

// libtorch_cpu.so embeds Caffe2's own generated caffe2.proto (TOOLCHAIN.md §3): compare our
// messages with it field by field, and parse our model.pb as a real caffe2.NetDef.
TEST(Caffe2WireFormatTest, FieldsMatchLibTorchsCaffe2Proto) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* name : {"NetDef", "OperatorDef", "Argument", "TensorProto", "DeviceOption"}) {
    const auto* ours = pool->FindMessageTypeByName(std::string("d2x.caffe2.") + name);
    const auto* theirs = pool->FindMessageTypeByName(std::string("caffe2.") + name);
    ASSERT_NE(ours, nullptr) << name;
    ASSERT_NE(theirs, nullptr) << "caffe2." << name << " not in libtorch's generated pool";
    for (int i = 0; i < ours->field_count(); ++i) {
      const auto* f = ours->field(i);
      const auto* g = theirs->FindFieldByNumber(f->number());
      ASSERT_NE(g, nullptr) << name << "." << f->name();
      EXPECT_EQ(f->name(), g->name()) << name << " field " << f->number();
      EXPECT_EQ(f->type(), g->type()) << name << "." << f->name();
      EXPECT_EQ(f->label(), g->label()) << name << "." << f->name();
      EXPECT_EQ(f->is_packed(), g->is_packed()) << name << "." << f->name();
    }
  }
}

TEST(Caffe2WireFormatTest, OurBytesParseAsCaffe2NetDef) {
  d2x::caffe2::NetDef net;
  net.set_name("n");
  net.add_external_input("data");
  auto* op = net.add_op();
  op->set_type("Conv");
  op->add_input("data");
  op->add_output("y");
  AddArg(op, "kernels")->add_ints(3);
  AddArg(op, "spatial_scale")->set_f(0.25f);
  auto fill = MakeFillOp("w", at::arange(6, at::kFloat).view({2, 3}));
  ASSERT_TRUE(fill.ok());
  *net.add_op() = *fill;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const auto* desc = pool->FindMessageTypeByName("caffe2.NetDef");
  ASSERT_NE(desc, nullptr);
  google::protobuf::DynamicMessageFactory factory(pool);
  std::unique_ptr<google::protobuf::Message> theirs(factory.GetPrototype(desc)->New());
  ASSERT_TRUE(theirs->ParseFromString(net.SerializeAsString()));
  EXPECT_EQ(theirs->GetReflection()->GetUnknownFields(*theirs).field_count(), 0);
  std::string ours_text, theirs_text;
  google::protobuf::TextFormat::PrintToString(net, &ours_text);
  google::protobuf::TextFormat::PrintToString(*theirs, &theirs_text);
  EXPECT_EQ(ours_text, theirs_text);
  EXPECT_EQ(theirs->SerializeAsString(), net.SerializeAsString());
}

}  // namespace
}  // namespace d2x::caffe2_format
