// Unit tests of the module structure: detectron2 names, shapes, norms, Conv2d fusion.
#include <ATen/ATen.h>

#include <set>
#include <string>

#include "core/modeling/conv2d.h"
#include "core/modeling/fpn.h"
#include "core/modeling/norm.h"
#include "core/modeling/resnet.h"
#include "core/modeling/rpn.h"
#include "gtest/gtest.h"

namespace d2x::modeling {
namespace {

std::set<std::string> Names(torch::nn::Module& m) {
  std::set<std::string> out;
  for (const auto& p : m.named_parameters()) out.insert(p.key());
  for (const auto& b : m.named_buffers()) out.insert(b.key());
  return out;
}

void Randomize(torch::nn::Module& m, uint64_t seed) {
  at::manual_seed(seed);
  at::NoGradGuard g;
  for (auto& p : m.named_parameters()) p.value().uniform_(-0.5, 0.5);
  for (auto& b : m.named_buffers()) {
    if (b.key().find("running_var") != std::string::npos) {
      b.value().uniform_(0.5, 2.0);
    } else if (b.value().is_floating_point()) {
      b.value().uniform_(-0.5, 0.5);
    }
  }
}

TEST(NormTest, GetNormNamesAndErrors) {
  auto frozen = GetNorm("FrozenBN", 8);
  ASSERT_TRUE(frozen.ok());
  EXPECT_EQ(Names(**frozen),
            (std::set<std::string>{"weight", "bias", "running_mean", "running_var"}));
  auto bn = GetNorm("SyncBN", 8);
  ASSERT_TRUE(bn.ok());
  EXPECT_EQ(Names(**bn), (std::set<std::string>{"weight", "bias", "running_mean", "running_var",
                                                "num_batches_tracked"}));
  auto gn = GetNorm("GN", 64);
  ASSERT_TRUE(gn.ok());
  EXPECT_EQ(Names(**gn), (std::set<std::string>{"weight", "bias"}));
  auto none = GetNorm("", 8);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  EXPECT_FALSE(GetNorm("GN", 48).ok());
  EXPECT_FALSE(GetNorm("Batch", 8).ok());
}

TEST(NormTest, FrozenBatchNormMatchesAffineFormula) {
  FrozenBatchNorm2d bn(5);
  // Defaults are an identity map up to running_var = 1 - eps.
  at::Tensor x = at::randn({2, 5, 3, 4});
  EXPECT_TRUE(at::allclose(bn.Forward(x), x, 0, 1e-6));
  Randomize(bn, 1);
  at::Tensor scale, shift;
  ASSERT_TRUE(bn.InferenceAffine(&scale, &shift));
  at::Tensor ref = x * scale.view({1, -1, 1, 1}) + shift.view({1, -1, 1, 1});
  EXPECT_TRUE(at::allclose(bn.Forward(x), ref, 1e-6, 1e-6));
}

TEST(NormTest, GroupNormIsTorchGroupNorm) {
  GroupNorm gn(32, 64);
  Randomize(gn, 2);
  at::Tensor x = at::randn({2, 64, 5, 5});
  auto params = gn.named_parameters();
  EXPECT_TRUE(at::equal(gn.Forward(x),
                        at::group_norm(x, 32, params["weight"], params["bias"], 1e-5)));
}

TEST(Conv2dTest, NamesAndFuse) {
  Conv2dOptions o;
  o.in_channels = 4;
  o.out_channels = 6;
  o.kernel_size = 3;
  o.padding = 1;
  o.bias = false;
  o.norm = "FrozenBN";
  auto conv = Conv2d::Create(o);
  ASSERT_TRUE(conv.ok()) << conv.status();
  EXPECT_EQ(Names(**conv), (std::set<std::string>{"weight", "norm.weight", "norm.bias",
                                                  "norm.running_mean", "norm.running_var"}));
  Randomize(**conv, 3);
  at::Tensor x = at::randn({1, 4, 9, 7});
  at::Tensor before = (*conv)->Forward(x);
  ASSERT_TRUE((*conv)->Fuse().ok());
  EXPECT_EQ(Names(**conv), (std::set<std::string>{"weight", "bias"}));
  at::Tensor after = (*conv)->Forward(x);
  EXPECT_TRUE(at::allclose(before, after, 1e-5, 1e-5));
  EXPECT_TRUE((*conv)->Fuse().ok());  // no-op now

  o.norm = "GN";
  o.out_channels = 32;
  auto gn_conv = Conv2d::Create(o);
  ASSERT_TRUE(gn_conv.ok());
  EXPECT_EQ((*gn_conv)->Fuse().code(), absl::StatusCode::kFailedPrecondition);
  o.groups = 3;
  EXPECT_FALSE(Conv2d::Create(o).ok());
}

ResNetConfig SmallR50() {
  // The fixture models' ResNet: R50 with narrow widths.
  ResNetConfig c;
  c.depth = 50;
  c.stem_out_channels = 16;
  c.res2_out_channels = 64;
  c.width_per_group = 16;
  c.out_features = {"res2", "res3", "res4", "res5"};
  return c;
}

TEST(ResNetTest, R50NamesAndShapes) {
  auto net = BuildResNet(SmallR50());
  ASSERT_TRUE(net.ok()) << net.status();
  const std::set<std::string> names = Names(**net);
  for (const char* n : {"stem.conv1.weight", "stem.conv1.norm.running_var",
                        "res2.0.shortcut.weight", "res2.0.shortcut.norm.weight",
                        "res2.0.conv1.weight", "res2.2.conv3.norm.bias", "res3.0.shortcut.weight",
                        "res4.5.conv2.weight", "res5.2.conv3.norm.running_mean"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  EXPECT_FALSE(names.count("res2.1.shortcut.weight"));
  // 1 stem conv + (3+4+6+3) blocks * 3 convs + 4 shortcuts = 53 convs, 5 tensors each.
  EXPECT_EQ(names.size(), 53u * 5u);
  auto shapes = (*net)->output_shape();
  EXPECT_EQ(shapes["res2"].channels, 64);
  EXPECT_EQ(shapes["res2"].stride, 4);
  EXPECT_EQ(shapes["res5"].channels, 512);
  EXPECT_EQ(shapes["res5"].stride, 32);
  EXPECT_EQ((*net)->named_parameters()["res3.0.conv1.weight"].sizes(),
            (at::IntArrayRef{32, 64, 1, 1}));
  // stride_in_1x1: the stride is in conv1.
  Randomize(**net, 4);
  at::NoGradGuard g;
  FeatureMap f = (*net)->Forward(at::randn({1, 3, 64, 96}));
  EXPECT_EQ(f["res5"].sizes(), (at::IntArrayRef{1, 512, 2, 3}));
  EXPECT_EQ(f["res3"].sizes(), (at::IntArrayRef{1, 128, 8, 12}));
}

TEST(ResNetTest, FuseMatchesUnfused) {
  ResNetConfig c = SmallR50();
  auto net = BuildResNet(c);
  ASSERT_TRUE(net.ok());
  Randomize(**net, 5);
  at::NoGradGuard g;
  at::Tensor x = at::randn({1, 3, 64, 64});
  FeatureMap a = (*net)->Forward(x);
  ASSERT_TRUE((*net)->Fuse().ok());
  FeatureMap b = (*net)->Forward(x);
  for (const char* k : {"res2", "res3", "res4", "res5"}) {
    const double scale = a[k].abs().max().item<double>();
    EXPECT_LT((a[k] - b[k]).abs().max().item<double>() / scale, 1e-4) << k;
  }
}

TEST(ResNetTest, R18AndTruncationAndErrors) {
  ResNetConfig c;
  c.depth = 18;
  c.res2_out_channels = 64;
  c.out_features = {"res3"};
  auto net = BuildResNet(c);
  ASSERT_TRUE(net.ok()) << net.status();
  const std::set<std::string> names = Names(**net);
  EXPECT_TRUE(names.count("res3.1.conv2.weight"));
  EXPECT_TRUE(names.count("res3.0.shortcut.weight"));
  EXPECT_FALSE(names.count("res2.0.shortcut.weight"));  // 64 -> 64: no shortcut
  EXPECT_FALSE(names.count("res4.0.conv1.weight"));     // dropped: not needed for res3
  c.res2_out_channels = 256;
  EXPECT_FALSE(BuildResNet(c).ok());
  ResNetConfig d = SmallR50();
  d.deform_on_per_stage = {false, true, false, false};
  EXPECT_EQ(BuildResNet(d).status().code(), absl::StatusCode::kUnimplemented);
  d = SmallR50();
  d.out_features = {"res6"};
  EXPECT_FALSE(BuildResNet(d).ok());
  d = SmallR50();
  d.res5_dilation = 2;
  d.out_features = {"res5"};
  auto dilated = BuildResNet(d);
  ASSERT_TRUE(dilated.ok());
  EXPECT_EQ((*dilated)->output_shape()["res5"].stride, 16);
}

TEST(FpnTest, RcnnFpnNamesAndShapes) {
  FpnConfig f;
  f.in_features = {"res2", "res3", "res4", "res5"};
  f.out_channels = 64;
  auto fpn = BuildResNetFpnBackbone(SmallR50(), f);
  ASSERT_TRUE(fpn.ok()) << fpn.status();
  const std::set<std::string> names = Names(**fpn);
  for (const char* n : {"fpn_lateral2.weight", "fpn_lateral2.bias", "fpn_output5.weight",
                        "bottom_up.stem.conv1.weight", "bottom_up.res2.0.shortcut.norm.bias"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  EXPECT_EQ(names.size(), 53u * 5u + 16u);
  EXPECT_EQ((*fpn)->out_features(), (std::vector<std::string>{"p2", "p3", "p4", "p5", "p6"}));
  EXPECT_EQ((*fpn)->size_divisibility(), 32);
  auto shapes = (*fpn)->output_shape();
  EXPECT_EQ(shapes["p6"].stride, 64);
  EXPECT_EQ(shapes["p2"].channels, 64);
  Randomize(**fpn, 6);
  at::NoGradGuard g;
  FeatureMap out = (*fpn)->Forward(at::randn({1, 3, 96, 128}));
  EXPECT_EQ(out["p2"].sizes(), (at::IntArrayRef{1, 64, 24, 32}));
  EXPECT_EQ(out["p6"].sizes(), (at::IntArrayRef{1, 64, 2, 2}));
  // p6 = p5[:, :, ::2, ::2].
  EXPECT_TRUE(at::equal(out["p6"], out["p5"].slice(2, 0, 3, 2).slice(3, 0, 4, 2)));
}

TEST(FpnTest, RetinaNetP6P7) {
  ResNetConfig r = SmallR50();
  r.out_features = {"res3", "res4", "res5"};
  FpnConfig f;
  f.in_features = {"res3", "res4", "res5"};
  f.out_channels = 64;
  auto fpn = BuildRetinaNetResNetFpnBackbone(r, f);
  ASSERT_TRUE(fpn.ok()) << fpn.status();
  const std::set<std::string> names = Names(**fpn);
  EXPECT_TRUE(names.count("top_block.p6.weight"));
  EXPECT_TRUE(names.count("top_block.p7.bias"));
  EXPECT_FALSE(names.count("fpn_lateral2.weight"));
  EXPECT_EQ((*fpn)->named_parameters()["top_block.p6.weight"].sizes(),
            (at::IntArrayRef{64, 512, 3, 3}));
  EXPECT_EQ((*fpn)->out_features(), (std::vector<std::string>{"p3", "p4", "p5", "p6", "p7"}));
  EXPECT_EQ((*fpn)->output_shape()["p7"].stride, 128);
  EXPECT_EQ((*fpn)->size_divisibility(), 32);
}

TEST(RpnHeadTest, Names) {
  RpnHeadOptions o;
  o.in_channels = 64;
  o.num_anchors = 3;
  auto head = StandardRpnHead::Create(o);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(Names(**head),
            (std::set<std::string>{"conv.weight", "conv.bias", "objectness_logits.weight",
                                   "objectness_logits.bias", "anchor_deltas.weight",
                                   "anchor_deltas.bias"}));
  o.conv_dims = {32, -1};
  auto deep = StandardRpnHead::Create(o);
  ASSERT_TRUE(deep.ok());
  EXPECT_TRUE(Names(**deep).count("conv.conv1.weight"));
  EXPECT_EQ((*deep)->named_parameters()["anchor_deltas.weight"].sizes(),
            (at::IntArrayRef{12, 32, 1, 1}));
}

}  // namespace
}  // namespace d2x::modeling
