// ResNet backbone, as detectron2/modeling/backbone/resnet.py: BasicStem, BasicBlock (R18/R34),
// BottleneckBlock (R50+, stride_in_1x1, groups, dilation) and build_resnet_backbone.
//
// Names follow detectron2: stem.conv1.{weight,norm.*}, res2.0.shortcut.*, res2.0.conv1.*, ...
// Deformable blocks (DEFORM_ON_PER_STAGE) and the classification head (num_classes) are not
// supported; BuildResNet reports them as Unimplemented.
#ifndef D2X_CORE_MODELING_RESNET_H_
#define D2X_CORE_MODELING_RESNET_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/modeling/backbone.h"
#include "core/modeling/conv2d.h"

namespace d2x::modeling {

// detectron2 CNNBlockBase.
class CnnBlockBase : public torch::nn::Module {
 public:
  CnnBlockBase(const std::string& name, int64_t in_channels, int64_t out_channels,
               int64_t stride)
      : torch::nn::Module(name),
        in_channels_(in_channels),
        out_channels_(out_channels),
        stride_(stride) {}
  virtual at::Tensor Forward(const at::Tensor& x) = 0;
  // Conv2d::Fuse on every conv of the block.
  virtual absl::Status Fuse() = 0;
  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  int64_t stride() const { return stride_; }

 private:
  int64_t in_channels_, out_channels_, stride_;
};

// conv1 (7x7, stride 2, pad 3, no bias, norm) -> relu -> max_pool2d(3, 2, 1). Stride 4.
class BasicStem : public CnnBlockBase {
 public:
  static absl::StatusOr<std::shared_ptr<BasicStem>> Create(int64_t in_channels,
                                                           int64_t out_channels,
                                                           const std::string& norm);
  at::Tensor Forward(const at::Tensor& x) override;
  absl::Status Fuse() override;
  BasicStem(int64_t in_channels, int64_t out_channels, std::shared_ptr<Conv2d> conv1);

 private:
  std::shared_ptr<Conv2d> conv1_;
};

// Two 3x3 convs + projection shortcut when in != out channels.
class BasicBlock : public CnnBlockBase {
 public:
  static absl::StatusOr<std::shared_ptr<BasicBlock>> Create(int64_t in_channels,
                                                            int64_t out_channels, int64_t stride,
                                                            const std::string& norm);
  at::Tensor Forward(const at::Tensor& x) override;
  absl::Status Fuse() override;
  BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride,
             std::shared_ptr<Conv2d> shortcut, std::shared_ptr<Conv2d> conv1,
             std::shared_ptr<Conv2d> conv2);

 private:
  std::shared_ptr<Conv2d> shortcut_, conv1_, conv2_;
};

struct BottleneckOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t bottleneck_channels = 0;
  int64_t stride = 1;
  int64_t num_groups = 1;
  std::string norm = "BN";
  bool stride_in_1x1 = false;
  int64_t dilation = 1;
};

// 1x1 -> 3x3 (groups, dilation) -> 1x1, + projection shortcut when in != out channels.
class BottleneckBlock : public CnnBlockBase {
 public:
  static absl::StatusOr<std::shared_ptr<BottleneckBlock>> Create(const BottleneckOptions& o);
  at::Tensor Forward(const at::Tensor& x) override;
  absl::Status Fuse() override;
  BottleneckBlock(const BottleneckOptions& o, std::shared_ptr<Conv2d> shortcut,
                  std::shared_ptr<Conv2d> conv1, std::shared_ptr<Conv2d> conv2,
                  std::shared_ptr<Conv2d> conv3);

 private:
  std::shared_ptr<Conv2d> shortcut_, conv1_, conv2_, conv3_;
};

class ResNet : public Backbone {
 public:
  // detectron2 ResNet(stem, stages, out_features): stages beyond the last requested output are
  // dropped; stage i is registered as "res{i+2}" with blocks "0", "1", ...
  static absl::StatusOr<std::shared_ptr<ResNet>> Create(
      std::shared_ptr<BasicStem> stem,
      std::vector<std::vector<std::shared_ptr<CnnBlockBase>>> stages,
      const std::vector<std::string>& out_features);

  FeatureMap Forward(const at::Tensor& x) override;
  const std::vector<std::string>& out_features() const override { return out_features_; }
  std::map<std::string, ShapeSpec> output_shape() const override;

  // Folds every FrozenBN/BN into its conv (see Conv2d::Fuse). Call after loading weights.
  absl::Status Fuse();

  ResNet() : Backbone("ResNet") {}

 private:
  std::shared_ptr<BasicStem> stem_;
  std::vector<std::string> stage_names_;
  std::vector<std::vector<std::shared_ptr<CnnBlockBase>>> stages_;
  std::vector<std::string> out_features_;
  std::map<std::string, ShapeSpec> shapes_;  // every stage, plus "stem"
};

// The MODEL.RESNETS.* / MODEL.BACKBONE.* values build_resnet_backbone reads (defaults are
// detectron2's config defaults).
struct ResNetConfig {
  int64_t in_channels = 3;  // input_shape.channels = len(MODEL.PIXEL_MEAN)
  int64_t depth = 50;
  std::vector<std::string> out_features = {"res4"};
  int64_t num_groups = 1;
  int64_t width_per_group = 64;
  int64_t stem_out_channels = 64;
  int64_t res2_out_channels = 256;
  bool stride_in_1x1 = true;
  int64_t res5_dilation = 1;
  std::string norm = "FrozenBN";
  std::vector<bool> deform_on_per_stage = {false, false, false, false};
};

// build_resnet_backbone. Errors: unknown depth, R18/R34 constraints (RES2_OUT_CHANNELS 64,
// dilation 1, groups 1), res5_dilation not in {1, 2}, deformable stages (unimplemented), unknown
// out_features.
absl::StatusOr<std::shared_ptr<ResNet>> BuildResNet(const ResNetConfig& config);

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_RESNET_H_
