// Feature Pyramid Network, as detectron2/modeling/backbone/fpn.py: FPN, LastLevelMaxPool,
// LastLevelP6P7, build_resnet_fpn_backbone and build_retinanet_resnet_fpn_backbone.
//
// Names follow detectron2: fpn_lateral{stage}.*, fpn_output{stage}.*, top_block.p6.*,
// top_block.p7.*, bottom_up.* (registered in that order, as detectron2).
#ifndef D2X_CORE_MODELING_FPN_H_
#define D2X_CORE_MODELING_FPN_H_

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
#include "core/modeling/resnet.h"

namespace d2x::modeling {

// An extra block on top of the last FPN level producing num_levels() more levels.
class TopBlock : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;
  virtual std::vector<at::Tensor> Forward(const at::Tensor& x) = 0;
  virtual int64_t num_levels() const = 0;
  // The feature it reads: a bottom-up feature ("res5") or an FPN output ("p5").
  virtual const std::string& in_feature() const = 0;
};

// P6 = max_pool2d(P5, kernel 1, stride 2, padding 0). No parameters.
class LastLevelMaxPool : public TopBlock {
 public:
  LastLevelMaxPool() : TopBlock("LastLevelMaxPool") {}
  std::vector<at::Tensor> Forward(const at::Tensor& x) override;
  int64_t num_levels() const override { return 1; }
  const std::string& in_feature() const override { return in_feature_; }

 private:
  std::string in_feature_ = "p5";
};

// RetinaNet's P6 = conv3x3/2(C5 or P5), P7 = conv3x3/2(relu(P6)); children p6, p7 (with bias).
class LastLevelP6P7 : public TopBlock {
 public:
  static absl::StatusOr<std::shared_ptr<LastLevelP6P7>> Create(
      int64_t in_channels, int64_t out_channels, const std::string& in_feature = "res5");
  LastLevelP6P7(std::shared_ptr<Conv2d> p6, std::shared_ptr<Conv2d> p7,
                const std::string& in_feature);
  std::vector<at::Tensor> Forward(const at::Tensor& x) override;
  int64_t num_levels() const override { return 2; }
  const std::string& in_feature() const override { return in_feature_; }

 private:
  std::shared_ptr<Conv2d> p6_, p7_;
  std::string in_feature_;
};

struct FpnOptions {
  std::vector<std::string> in_features;  // contiguous, high to low resolution, e.g. res2..res5
  int64_t out_channels = 256;
  std::string norm;                      // "" = lateral/output convs have bias and no norm
  std::string fuse_type = "sum";         // "sum" or "avg"
  int64_t square_pad = 0;
};

class Fpn : public Backbone {
 public:
  // Errors: unknown in_features, strides not log2-contiguous, bad fuse_type or norm.
  static absl::StatusOr<std::shared_ptr<Fpn>> Create(std::shared_ptr<Backbone> bottom_up,
                                                     const FpnOptions& options,
                                                     std::shared_ptr<TopBlock> top_block);

  FeatureMap Forward(const at::Tensor& x) override;
  const std::vector<std::string>& out_features() const override { return out_features_; }
  std::map<std::string, ShapeSpec> output_shape() const override;
  int64_t size_divisibility() const override { return size_divisibility_; }
  int64_t square_pad() const override { return square_pad_; }

  const std::shared_ptr<Backbone>& bottom_up() const { return bottom_up_; }

  // Folds FrozenBN/BN into convs in the bottom-up ResNet and in the FPN convs (when they have
  // a norm). Call after loading weights. Unimplemented for non-ResNet bottom-ups.
  absl::Status Fuse();

  Fpn() : Backbone("FPN") {}

 private:
  std::shared_ptr<Backbone> bottom_up_;
  std::shared_ptr<TopBlock> top_block_;
  std::vector<std::string> in_features_;
  // Top-down order (lowest resolution first), as detectron2's lateral_convs / output_convs.
  std::vector<std::shared_ptr<Conv2d>> lateral_convs_, output_convs_;
  std::vector<std::string> out_features_;
  std::map<std::string, int64_t> strides_;
  int64_t out_channels_ = 0;
  int64_t size_divisibility_ = 0;
  int64_t square_pad_ = 0;
  bool fuse_avg_ = false;
};

// The MODEL.FPN.* values the two builders read, on top of ResNetConfig.
struct FpnConfig {
  std::vector<std::string> in_features;
  int64_t out_channels = 256;
  std::string norm;
  std::string fuse_type = "sum";
};

// build_resnet_fpn_backbone: ResNet bottom-up + FPN + LastLevelMaxPool (p2..p6).
absl::StatusOr<std::shared_ptr<Fpn>> BuildResNetFpnBackbone(const ResNetConfig& resnet,
                                                            const FpnConfig& fpn);

// build_retinanet_resnet_fpn_backbone: ResNet + FPN + LastLevelP6P7(res5 channels, out, "res5").
absl::StatusOr<std::shared_ptr<Fpn>> BuildRetinaNetResNetFpnBackbone(const ResNetConfig& resnet,
                                                                     const FpnConfig& fpn);

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_FPN_H_
