// The LibTorch tracer records d2x ops as single d2x:: nodes (not the ATen ops inside the kernels),
// and the traced graph, saved and reloaded, runs at other input sizes.
#include <gtest/gtest.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/script.h>

#include <cstdlib>
#include <map>
#include <string>

#include "core/ops/ops.h"

namespace d2x::ops {
namespace {

struct Inputs {
  at::Tensor features, rois, boxes, scores, idxs;
  std::vector<c10::IValue> Stack() const { return {features, rois, boxes, scores, idxs}; }
};

Inputs MakeInputs(int64_t batch, int64_t height, int64_t width, int64_t num_rois, int64_t num_boxes,
                  uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  Inputs in;
  in.features = at::randn({batch, 8, height, width}, gen, at::kFloat);
  const at::Tensor xy = at::rand({num_rois, 2}, gen, at::kFloat) * 60;
  in.rois = at::cat({at::randint(0, batch, {num_rois, 1}, gen, at::kFloat), xy,
                     xy + at::rand({num_rois, 2}, gen, at::kFloat) * 30},
                    1);
  const at::Tensor bxy = at::rand({num_boxes, 2}, gen, at::kFloat) * 100;
  in.boxes = at::cat({bxy, bxy + at::rand({num_boxes, 2}, gen, at::kFloat) * 40 + 1}, 1);
  in.scores = at::randint(0, 4, {num_boxes}, gen, at::kFloat) / 3;
  in.idxs = at::randint(0, 3, {num_boxes}, gen, at::kLong);
  return in;
}

// The function that is traced: one call of each op.
c10::IValue RunOps(const Inputs& in) {
  return c10::ivalue::Tuple::create({RoiAlign(in.features, in.rois, 0.25, 7, 7, 0, true),
                                     Nms(in.boxes, in.scores, 0.5),
                                     BatchedNms(in.boxes, in.scores, in.idxs, 0.7)});
}

bool SameTensor(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() &&
         at::equal(a.contiguous(), b.contiguous());
}

TEST(TraceTest, RecordsD2xNodesAndReloadedGraphRunsAtOtherSizes) {
  const Inputs example = MakeInputs(1, 20, 24, 6, 30, 1);
  auto traced = torch::jit::tracer::trace(
      example.Stack(),
      [](torch::jit::Stack stack) -> torch::jit::Stack {
        Inputs in{stack[0].toTensor(), stack[1].toTensor(), stack[2].toTensor(),
                  stack[3].toTensor(), stack[4].toTensor()};
        return {RunOps(in)};
      },
      [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/false,
      /*force_outplace=*/false);
  std::shared_ptr<torch::jit::Graph> graph = traced.first->graph;

  std::map<std::string, int> kinds;
  for (const torch::jit::Node* node : graph->nodes()) ++kinds[node->kind().toQualString()];
  EXPECT_EQ(kinds[kRoiAlignOp], 1) << *graph;
  EXPECT_EQ(kinds[kNmsOp], 1) << *graph;
  EXPECT_EQ(kinds[kBatchedNmsOp], 1) << *graph;
  for (const auto& [kind, count] : kinds) {  // the kernels' ATen internals are not traced
    EXPECT_TRUE(kind.rfind("aten::", 0) != 0) << kind << " in\n" << *graph;
  }

  torch::jit::Module module(c10::QualifiedName("__torch__.TracedOps"));
  graph->insertInput(0, "self")->setType(module._ivalue()->type());
  module.type()->addMethod(module._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*module.type()->name(), "forward"), graph));
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/traced_ops.pt";
  module.save(path);
  torch::jit::Module loaded = torch::jit::load(path);

  for (const Inputs& in : {MakeInputs(2, 33, 17, 11, 57, 2), MakeInputs(1, 20, 24, 6, 30, 1),
                           MakeInputs(3, 9, 40, 0, 0, 3)}) {
    const auto got = loaded.forward(in.Stack()).toTuple();
    const auto want = RunOps(in).toTuple();
    ASSERT_EQ(got->elements().size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(SameTensor(got->elements()[i].toTensor(), want->elements()[i].toTensor()))
          << "output " << i << " for features " << in.features.sizes();
    }
    EXPECT_EQ(got->elements()[0].toTensor().size(0), in.rois.size(0));
  }
}

}  // namespace
}  // namespace d2x::ops
