#include "core/trace/trace.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "core/trace/module_io.h"

// A test-only custom op, as d2x's ops are: the tracer must record it as one node.
namespace {
at::Tensor ScaleAdd(const at::Tensor& x, double s) { return x * s + 1; }
}  // namespace
TORCH_LIBRARY(d2x_trace_test, m) { m.def("scale_add(Tensor x, float s) -> Tensor"); }
TORCH_LIBRARY_IMPL(d2x_trace_test, CPU, m) { m.impl("scale_add", &ScaleAdd); }

namespace d2x::trace {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

struct ConvNetImpl : torch::nn::Module {
  ConvNetImpl() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).padding(1)));
    bn = register_module("bn", torch::nn::BatchNorm2d(8));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 4, 3).stride(2)));
    fc = register_module("fc", torch::nn::Linear(4, 5));
  }
  std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& in) {
    at::Tensor x = torch::relu(bn(conv1(in[0])));
    at::Tensor features = torch::relu(conv2(x));
    at::Tensor pooled = torch::adaptive_avg_pool2d(features, {1, 1}).flatten(1);
    return {features, fc(pooled)};
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ConvNet);

ConvNet MakeNet() {
  torch::manual_seed(0);
  ConvNet net;
  net->eval();
  for (auto& p : net->parameters()) p.set_requires_grad(false);
  return net;
}

void ExpectSame(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].sizes(), b[i].sizes()) << "output " << i;
    EXPECT_TRUE(torch::allclose(a[i], b[i], /*rtol=*/0, /*atol=*/1e-6)) << "output " << i;
  }
}

TEST(TraceTest, ConvNetGeneralizesAndRoundTrips) {
  ConvNet net = MakeNet();
  TraceFunction fn = [&net](const std::vector<at::Tensor>& in) { return net->Forward(in); };
  TraceOptions options;
  options.input_names = {"image"};
  options.output_names = {"features", "logits"};
  options.module_name = "d2x.TestConvNet";
  options.check_inputs = {{torch::rand({2, 3, 40, 48})}, {torch::rand({1, 3, 17, 23})}};
  TraceCheckResult check;
  options.check_result = &check;
  auto module = TraceToModule(fn, {torch::rand({1, 3, 32, 32})}, options);
  ASSERT_TRUE(module.ok()) << module.status();
  EXPECT_EQ(check.max_abs_diff.size(), 2u);
  EXPECT_LE(check.overall_max_abs_diff, 1e-6);

  EXPECT_EQ(module->type()->name()->qualifiedName(), "__torch__.d2x.TestConvNet");
  EXPECT_FALSE(module->is_training());
  const auto& graph = module->get_method("forward").graph();
  ASSERT_EQ(graph->inputs().size(), 2u);
  EXPECT_EQ(graph->inputs()[0]->debugName(), "self");
  EXPECT_EQ(graph->inputs()[1]->debugName(), "image");
  ASSERT_EQ(graph->outputs().size(), 1u);
  EXPECT_EQ(graph->outputs()[0]->node()->kind(), c10::prim::TupleConstruct);
  EXPECT_EQ(graph->outputs()[0]->node()->inputs()[0]->debugName(), "features");
  EXPECT_EQ(graph->outputs()[0]->node()->inputs()[1]->debugName(), "logits");
  EXPECT_EQ(module->get_method("forward").function().getSchema().arguments()[1].name(), "image");

  // Save, load, run at another size and batch: equal to the eager net.
  const std::string path = TempDir() + "/conv_net.pt";
  ASSERT_TRUE(SaveModule(*module, path).ok());
  auto loaded = LoadModule(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  at::Tensor other = torch::rand({2, 3, 57, 41});
  auto out = RunModule(*loaded, {other});
  ASSERT_TRUE(out.ok()) << out.status();
  torch::NoGradGuard no_grad;
  ExpectSame(*out, net->Forward({other}));
}

TEST(TraceTest, DataDependentShapes) {
  TraceFunction fn = [](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    const at::Tensor& x = in[0];
    at::Tensor keep = x > 0.5;
    return {torch::nonzero(keep), x.masked_select(keep) * 2, x.flip({0}).cumsum(0)};
  };
  at::Tensor small = torch::rand({10});
  at::Tensor large = torch::rand({37});
  TraceOptions options;
  options.input_names = {"x"};
  options.check_inputs = {{large}};
  options.check_atol = 0;
  auto module = TraceToModule(fn, {small}, options);
  ASSERT_TRUE(module.ok()) << module.status();

  const std::string path = TempDir() + "/data_dependent.pt";
  ASSERT_TRUE(SaveModule(*module, path).ok());
  auto loaded = LoadModule(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto out = RunModule(*loaded, {large});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectSame(*out, fn({large}));
  EXPECT_EQ((*out)[0].size(0), (large > 0.5).sum().item<int64_t>());
}

TEST(TraceTest, BakedSizeIsCaughtByTheCheck) {
  // x.size(0) is a C++ integer: the tracer records it as a constant.
  TraceFunction scaled = [](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    return {in[0] * static_cast<double>(in[0].size(0))};
  };
  TraceOptions options;
  options.check_inputs = {{torch::ones({5})}};
  TraceCheckResult check;
  options.check_result = &check;
  auto module = TraceToModule(scaled, {torch::ones({3})}, options);
  ASSERT_FALSE(module.ok());
  EXPECT_EQ(module.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(module.status().message()), HasSubstr("max abs diff 2 > 1e-05"));
  EXPECT_DOUBLE_EQ(check.overall_max_abs_diff, 2.0);  // 1*5 - 1*3

  // A recorded shape: the traced module returns the trace-time shape.
  TraceFunction ones = [](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    return {in[0] + torch::ones({in[0].size(0)})};
  };
  module = TraceToModule(ones, {torch::ones({3})}, options);
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(std::string(module.status().message()), HasSubstr("generalization check 0"));

  // A recorded reshape: the traced module fails at the other size.
  TraceFunction flat = [](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    return {in[0].reshape({in[0].size(0) * in[0].size(1)})};
  };
  options.check_inputs = {{torch::ones({4, 5})}};
  module = TraceToModule(flat, {torch::ones({2, 3})}, options);
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(std::string(module.status().message()),
              HasSubstr("running the traced module on inputs of shapes [4, 5] failed"));

  // CompareWithFunction reports differences without judging them.
  auto traced = TraceToModule(scaled, {torch::ones({3})}, {}, "Scaled");
  ASSERT_TRUE(traced.ok());
  auto compared = CompareWithFunction(*traced, scaled, {torch::ones({4})});
  ASSERT_TRUE(compared.ok());
  EXPECT_DOUBLE_EQ(compared->overall_max_abs_diff, 1.0);
}

TEST(TraceTest, ParametersThatRequireGradAreExplained) {
  torch::nn::Linear linear(4, 2);  // requires_grad = true
  TraceFunction fn = [&linear](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    return {linear(in[0])};
  };
  auto module = TraceToModule(fn, {torch::rand({1, 4})}, {"x"}, "Linear");
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(std::string(module.status().message()),
              HasSubstr("Cannot insert a Tensor that requires grad as a constant"));
  EXPECT_THAT(std::string(module.status().message()), HasSubstr("set_requires_grad(false)"));
}

TEST(TraceTest, ErrorsAreStatuses) {
  TraceFunction throws = [](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    return {in[0].view({7, 7})};
  };
  auto module = TraceToModule(throws, {torch::rand({3})}, {}, "Throws");
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(std::string(module.status().message()), HasSubstr("tracing failed"));

  TraceFunction runtime_error = [](const std::vector<at::Tensor>&) -> std::vector<at::Tensor> {
    throw std::runtime_error("boom");
  };
  module = TraceToModule(runtime_error, {torch::rand({3})}, {}, "Throws");
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(std::string(module.status().message()), HasSubstr("boom"));

  TraceFunction nothing = [](const std::vector<at::Tensor>&) { return std::vector<at::Tensor>{}; };
  module = TraceToModule(nothing, {torch::rand({3})}, {}, "Nothing");
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(std::string(module.status().message()), HasSubstr("returned no tensors"));

  TraceFunction identity = [](const std::vector<at::Tensor>& in) { return in; };
  EXPECT_FALSE(TraceToModule(identity, {torch::rand({3})}, {"a", "b"}, "M").ok());
  EXPECT_FALSE(TraceToModule(identity, {torch::rand({3})}, {"1x"}, "M").ok());
  EXPECT_FALSE(TraceToModule(identity, {torch::rand({3})}, {"self"}, "M").ok());
  EXPECT_FALSE(TraceToModule(identity, {torch::rand({3}), torch::rand({3})}, {"a", "a"}, "M").ok());
  EXPECT_FALSE(TraceToModule(identity, {torch::rand({3})}, {"a"}, "bad-name").ok());

  // The tracer is usable again after a failure.
  auto ok = TraceToModule(identity, {torch::rand({3})}, {"a"}, "M");
  ASSERT_TRUE(ok.ok()) << ok.status();
  auto out = RunModule(*ok, {torch::ones({2})});
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(torch::equal((*out)[0], torch::ones({2})));
}

TEST(TraceTest, CustomOpIsOneNodeAndSurvivesSaveLoad) {
  static const auto op = c10::Dispatcher::singleton()
                              .findSchemaOrThrow("d2x_trace_test::scale_add", "")
                              .typed<at::Tensor(const at::Tensor&, double)>();
  TraceFunction fn = [](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    return {op.call(in[0], 3.0)};
  };
  auto module = TraceToModule(fn, {torch::rand({2, 2})}, {"x"}, "CustomOp");
  ASSERT_TRUE(module.ok()) << module.status();
  bool found = false;
  for (const torch::jit::Node* n : module->get_method("forward").graph()->nodes()) {
    found |= n->kind().toQualString() == std::string("d2x_trace_test::scale_add");
  }
  EXPECT_TRUE(found);
  const std::string path = TempDir() + "/custom_op.pt";
  ASSERT_TRUE(SaveModule(*module, path).ok());
  auto loaded = LoadModule(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  at::Tensor x = torch::rand({3, 5});
  auto out = RunModule(*loaded, {x});
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(torch::allclose((*out)[0], x * 3 + 1));
}

}  // namespace
}  // namespace d2x::trace
