// RetinaNetHead (detectron2/modeling/meta_arch/retinanet.py): two conv towers (classification and
// box regression) shared across the feature levels, then a 3x3 cls_score (A * K channels) and a 3x3
// bbox_pred (A * 4 channels) conv.
//
// Registered names follow detectron2 relative to the head: cls_subnet.{i}.{weight,bias} for the
// convs at Sequential index i (0, 2, 4, 6 without norm; 0, 3, 6, 9 with one), the norm at the next
// index, likewise bbox_subnet.*, then cls_score.*, bbox_pred.*. MODEL.RETINANET.NORM "BN" / "SyncBN"
// is detectron2's CycleBatchNormList (one affine-free BatchNorm per level, `{i}.{level}.running_*`,
// with a shared affine `{i}.weight` / `{i}.bias`); any other non-empty norm is get_norm's layer,
// shared across levels.
#ifndef D2X_PLUGINS_ARCH_RETINANET_RETINANET_HEAD_H_
#define D2X_PLUGINS_ARCH_RETINANET_RETINANET_HEAD_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/modeling/conv2d.h"
#include "core/modeling/norm.h"

namespace d2x::retinanet {

struct RetinaNetHeadOptions {
  int64_t in_channels = 0;   // channels of every input feature (input_shape[0].channels)
  int64_t num_levels = 0;    // number of input features (len(input_shape))
  int64_t num_classes = 80;  // MODEL.RETINANET.NUM_CLASSES
  int64_t num_anchors = 9;   // cell anchors per location (equal on all levels)
  int64_t num_convs = 4;     // MODEL.RETINANET.NUM_CONVS; conv_dims = [in_channels] * num_convs
  std::string norm;          // MODEL.RETINANET.NORM
};

// detectron2 CycleBatchNormList(length=num_levels, bn_class=BatchNorm2d, num_features=C) in eval
// mode: level `level` uses BatchNorm `level` (no affine), then the shared affine weight / bias.
// (detectron2 cycles a counter on each call; RetinaNetHead calls it once per level in order, so
// the counter always equals the level index.)
class CycleBatchNormList : public torch::nn::Module {
 public:
  CycleBatchNormList(int64_t num_levels, int64_t channels, double eps = 1e-5);
  at::Tensor Forward(const at::Tensor& x, int64_t level) const;

 private:
  double eps_;
  at::Tensor weight_, bias_;
  std::vector<at::Tensor> running_mean_, running_var_;
};

// One tower: num_convs x (conv3x3 -> [norm] -> ReLU).
class ConvTower : public torch::nn::Module {
 public:
  static absl::StatusOr<std::shared_ptr<ConvTower>> Create(const RetinaNetHeadOptions& options);
  at::Tensor Forward(const at::Tensor& x, int64_t level) const;

  ConvTower() : torch::nn::Module("Sequential") {}

 private:
  std::vector<std::shared_ptr<modeling::Conv2d>> convs_;
  std::vector<std::shared_ptr<modeling::NormLayer>> norms_;       // shared norms (or null)
  std::vector<std::shared_ptr<CycleBatchNormList>> cycle_norms_;  // "BN" / "SyncBN" (or null)
};

class RetinaNetHead : public torch::nn::Module {
 public:
  static absl::StatusOr<std::shared_ptr<RetinaNetHead>> Create(
      const RetinaNetHeadOptions& options);

  // features: the head's input features, high to low resolution (num_levels of them).
  // Returns per level: class logits [N, A*K, Hi, Wi] and box deltas [N, A*4, Hi, Wi].
  std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> Forward(
      const std::vector<at::Tensor>& features) const;

  const RetinaNetHeadOptions& options() const { return options_; }

  RetinaNetHead() : torch::nn::Module("RetinaNetHead") {}

 private:
  RetinaNetHeadOptions options_;
  std::shared_ptr<ConvTower> cls_subnet_, bbox_subnet_;
  std::shared_ptr<modeling::Conv2d> cls_score_, bbox_pred_;
};

}  // namespace d2x::retinanet

#endif  // D2X_PLUGINS_ARCH_RETINANET_RETINANET_HEAD_H_
