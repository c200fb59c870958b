// RetinaNetHead structure (detectron2 names for every MODEL.RETINANET.NORM) and CycleBatchNormList
// semantics; RetinaNet inference helpers on hand-made inputs.
#include "plugins/arch/retinanet/retinanet_head.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "plugins/arch/retinanet/retinanet_inference.h"

namespace d2x::retinanet {
namespace {

std::set<std::string> Names(const torch::nn::Module& m) {
  std::set<std::string> out;
  for (const auto& p : m.named_parameters()) out.insert(p.key());
  for (const auto& b : m.named_buffers()) out.insert(b.key());
  return out;
}

RetinaNetHeadOptions Options(const std::string& norm) {
  RetinaNetHeadOptions o;
  o.in_channels = 32;
  o.num_levels = 3;
  o.num_classes = 5;
  o.num_anchors = 2;
  o.num_convs = 2;
  o.norm = norm;
  return o;
}

TEST(RetinaNetHeadTest, NamesWithoutNorm) {
  auto head = RetinaNetHead::Create(Options(""));
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(Names(**head),
            (std::set<std::string>{"cls_subnet.0.weight", "cls_subnet.0.bias", "cls_subnet.2.weight",
                                   "cls_subnet.2.bias", "bbox_subnet.0.weight", "bbox_subnet.0.bias",
                                   "bbox_subnet.2.weight", "bbox_subnet.2.bias", "cls_score.weight",
                                   "cls_score.bias", "bbox_pred.weight", "bbox_pred.bias"}));
}

TEST(RetinaNetHeadTest, NamesWithGroupNorm) {
  auto head = RetinaNetHead::Create(Options("GN"));
  ASSERT_TRUE(head.ok()) << head.status();
  std::set<std::string> names = Names(**head);
  for (const char* n : {"cls_subnet.0.weight", "cls_subnet.0.bias", "cls_subnet.1.weight",
                        "cls_subnet.1.bias", "cls_subnet.3.weight", "cls_subnet.4.bias",
                        "bbox_subnet.4.weight"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  EXPECT_FALSE(names.count("cls_subnet.2.weight"));  // ReLU
}

TEST(RetinaNetHeadTest, NamesWithCycleBatchNorm) {
  auto head = RetinaNetHead::Create(Options("BN"));
  ASSERT_TRUE(head.ok()) << head.status();
  std::set<std::string> names = Names(**head);
  for (const char* n :
       {"cls_subnet.1.weight", "cls_subnet.1.bias", "cls_subnet.1.0.running_mean",
        "cls_subnet.1.2.running_var", "cls_subnet.1.1.num_batches_tracked",
        "bbox_subnet.4.2.running_mean", "cls_subnet.3.weight"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  EXPECT_FALSE(names.count("cls_subnet.1.0.weight"));  // affine=False per level
  EXPECT_FALSE(names.count("cls_subnet.1.3.running_mean"));  // 3 levels
}

// Level l is normalized with BatchNorm l, then the shared affine.
TEST(RetinaNetHeadTest, CycleBatchNormUsesTheLevelsStatistics) {
  at::NoGradGuard no_grad;
  CycleBatchNormList bn(/*num_levels=*/2, /*channels=*/4);
  std::map<std::string, at::Tensor> state;
  for (const auto& p : bn.named_parameters()) state[p.key()] = p.value();
  for (const auto& b : bn.named_buffers()) state[b.key()] = b.value();
  state["0.running_mean"].fill_(1.0);
  state["1.running_mean"].fill_(-1.0);
  state["1.running_var"].fill_(4.0);
  state["weight"].fill_(2.0);
  state["bias"].fill_(0.5);
  at::Tensor x = at::randn({1, 4, 3, 3});
  at::Tensor y0 = bn.Forward(x, 0), y1 = bn.Forward(x, 1);
  EXPECT_TRUE(at::allclose(y0, (x - 1.0) / std::sqrt(1.0 + 1e-5) * 2.0 + 0.5, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(y1, (x + 1.0) / std::sqrt(4.0 + 1e-5) * 2.0 + 0.5, 1e-5, 1e-6));
}

TEST(RetinaNetHeadTest, ForwardShapes) {
  at::NoGradGuard no_grad;
  auto head = RetinaNetHead::Create(Options(""));
  ASSERT_TRUE(head.ok());
  auto [logits, deltas] =
      (*head)->Forward({at::randn({2, 32, 8, 10}), at::randn({2, 32, 4, 5}), at::randn({2, 32, 2, 3})});
  ASSERT_EQ(logits.size(), 3u);
  EXPECT_EQ(logits[0].sizes(), at::IntArrayRef({2, 10, 8, 10}));
  EXPECT_EQ(deltas[2].sizes(), at::IntArrayRef({2, 8, 2, 3}));
}

TEST(RetinaNetHeadTest, BadOptions) {
  RetinaNetHeadOptions o = Options("");
  o.num_classes = 0;
  EXPECT_FALSE(RetinaNetHead::Create(o).ok());
  EXPECT_FALSE(RetinaNetHead::Create(Options("NoSuchNorm")).ok());
}

// permute_to_N_HWA_K: (N, A*K, H, W) -> (N, H*W*A, K) with element [n, (y*W + x)*A + a, k] =
// input[n, a*K + k, y, x].
TEST(RetinaNetInferenceTest, PermuteToNHWAK) {
  at::Tensor t = at::arange(2 * 6 * 2 * 3, at::kFloat).reshape({2, 6, 2, 3});  // A=2, K=3
  at::Tensor p = PermuteToNHWAK(t, 3);
  ASSERT_EQ(p.sizes(), at::IntArrayRef({2, 12, 3}));
  const int64_t n = 1, y = 1, x = 2, a = 1, k = 2;
  EXPECT_EQ(p[n][(y * 3 + x) * 2 + a][k].item<float>(), t[n][a * 3 + k][y][x].item<float>());
}

// Threshold, top-k (per level), class = idx % K, anchor = idx / K, decode.
TEST(RetinaNetInferenceTest, DecodePerLevel) {
  at::Tensor scores = at::tensor({0.01f, 0.9f, 0.2f, 0.6f, 0.04f, 0.7f}).reshape({3, 2});
  at::Tensor anchors = at::tensor({0.f, 0.f, 10.f, 10.f, 10.f, 10.f, 20.f, 30.f, 5.f, 5.f, 7.f, 9.f})
                           .reshape({3, 4});
  at::Tensor deltas = at::zeros({3, 4});
  modeling::Box2BoxTransform transform({1.0, 1.0, 1.0, 1.0});
  DenseDetections d = DecodePerLevel(anchors, scores, deltas, 0.05, 2, transform);
  ASSERT_EQ(d.scores.size(0), 2);
  EXPECT_FLOAT_EQ(d.scores[0].item<float>(), 0.9f);
  EXPECT_FLOAT_EQ(d.scores[1].item<float>(), 0.7f);
  EXPECT_EQ(d.classes[0].item<int64_t>(), 1);  // anchor 0, class 1
  EXPECT_EQ(d.classes[1].item<int64_t>(), 1);  // anchor 2, class 1
  EXPECT_TRUE(at::allclose(d.boxes[1], anchors[2]));
}

// No candidate above the threshold on any level: empty, well-formed detections.
TEST(RetinaNetInferenceTest, NoCandidates) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> logits = {at::full({2, 2 * 3, 4, 5}, -100.0),
                                    at::full({2, 2 * 3, 2, 3}, -100.0)};
  std::vector<at::Tensor> deltas = {at::zeros({2, 2 * 4, 4, 5}), at::zeros({2, 2 * 4, 2, 3})};
  std::vector<at::Tensor> anchors = {at::rand({4 * 5 * 2, 4}), at::rand({2 * 3 * 2, 4})};
  std::vector<DenseDetections> d =
      RetinaNetInference(logits, deltas, anchors, /*num_classes=*/3,
                         modeling::Box2BoxTransform({1.0, 1.0, 1.0, 1.0}), {});
  ASSERT_EQ(d.size(), 2u);
  for (const DenseDetections& x : d) {
    EXPECT_EQ(x.boxes.sizes(), at::IntArrayRef({0, 4}));
    EXPECT_EQ(x.scores.size(0), 0);
    EXPECT_EQ(x.classes.scalar_type(), at::kLong);
  }
}

}  // namespace
}  // namespace d2x::retinanet
