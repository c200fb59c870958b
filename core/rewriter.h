// Rewriter: turns an eager Model into an export-friendly TraceableModel.
//
// A TraceableModel takes and returns flat tensors only. Everything that depends on shapes (anchor
// grids, top-k counts, per-image splits, padding, NMS) must happen inside d2x ops that read shapes
// at run time, so that a trace made at one image size and batch size runs correctly at any other
// (see docs/DESIGN.md, key decision 1, and docs/EXPORT.md). Training-only code (loss branches,
// gradient scaling autograd Functions) must not be reachable from TraceableModel::Forward: a
// rewriter calls the inference path of each module directly (docs/EXPORT.md, "Keeping
// training-only code out of traces").
#ifndef D2X_CORE_REWRITER_H_
#define D2X_CORE_REWRITER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"

namespace d2x {

// What the format needs from the rewrite.
struct RewriteOptions {
  // "generic" (d2x ops, used by TorchScript and ONNX) or "caffe2" (Caffe2-compatible ops and I/O).
  std::string flavor = "generic";
  // Extra, flavor-specific settings.
  std::map<std::string, std::string> params;
};

// How MakeInputs pads a batch of images (the detector I/O contract, core/export/detector_io.h):
// to a multiple of size_divisibility, or to a square of square_size. Exporters that embed the
// batching in the artifact (TorchScript scripting) and manifests read it.
struct InputPadding {
  int64_t size_divisibility = 0;
  int64_t square_size = 0;
};

class TraceableModel {
 public:
  virtual ~TraceableModel() = default;

  // Names of the flat inputs and outputs, in order (they become graph input/output names).
  virtual std::vector<std::string> input_names() const = 0;
  virtual std::vector<std::string> output_names() const = 0;

  // The output schema (core/flatten) as JSON: how to rebuild structured results from the outputs.
  virtual std::string output_schema_json() const = 0;

  // Builds the flat inputs for a batch of images (normalization stays inside Forward).
  virtual absl::StatusOr<std::vector<at::Tensor>> MakeInputs(
      const std::vector<ImageInput>& batch) const = 0;

  // The padding MakeInputs applies.
  virtual InputPadding input_padding() const { return {}; }

  // The function that is traced: flat tensors in, flat tensors out. Must not throw for valid
  // inputs from MakeInputs.
  virtual std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& inputs) = 0;
};

class Rewriter {
 public:
  virtual ~Rewriter() = default;

  // Flavors this rewriter supports, e.g. {"generic", "caffe2"}.
  virtual std::vector<std::string> flavors() const = 0;

  // `model` must have been built by the same plugin and outlive the result.
  virtual absl::StatusOr<std::unique_ptr<TraceableModel>> Rewrite(
      Model& model, const RewriteOptions& options) = 0;
};

}  // namespace d2x

#endif  // D2X_CORE_REWRITER_H_
