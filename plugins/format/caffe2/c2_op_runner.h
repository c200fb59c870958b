// Internal to net_executor: runs the Caffe2-flavor operators (the d2x::c2_* ops' Caffe2 types,
// rebuilt from the op's schema and the OperatorDef's arguments by name; Cast, ExpandDims, Copy,
// AliasWithName).
#ifndef D2X_PLUGINS_FORMAT_CAFFE2_C2_OP_RUNNER_H_
#define D2X_PLUGINS_FORMAT_CAFFE2_C2_OP_RUNNER_H_

#include <ATen/core/Tensor.h>

#include <vector>

#include "absl/status/statusor.h"
#include "plugins/format/caffe2/net_io.h"

namespace d2x::caffe2_format {

// *handled = false (and no outputs) when `op` is not one of them.
absl::StatusOr<std::vector<at::Tensor>> RunCaffe2FlavorOp(const d2x::caffe2::OperatorDef& op,
                                                          const std::vector<at::Tensor>& inputs,
                                                          bool* handled);

}  // namespace d2x::caffe2_format

#endif  // D2X_PLUGINS_FORMAT_CAFFE2_C2_OP_RUNNER_H_
