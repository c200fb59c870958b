// DetectorTraceableModel: the part every detector rewrite shares — the I/O contract of
// detector_io.h (inputs images / image_sizes / output_sizes, outputs = sorted instance fields +
// image_size + num_instances [+ the panoptic outputs]), the instances output schema and the
// input padding. A rewriter derives from it and implements Forward only.
#ifndef D2X_CORE_EXPORT_DETECTOR_TRACEABLE_H_
#define D2X_CORE_EXPORT_DETECTOR_TRACEABLE_H_

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/export/detector_io.h"
#include "core/rewriter.h"

namespace d2x::exporting {

class DetectorTraceableModel : public TraceableModel {
 public:
  // `fields`: the instance fields the graph returns (any order); `panoptic`: whether the panoptic
  // outputs follow (PanopticOutputNames); `padding`: how MakeInputs pads a batch.
  DetectorTraceableModel(std::vector<std::string> fields, bool panoptic, InputPadding padding)
      : fields_(std::move(fields)),
        output_names_(panoptic ? PanopticOutputNames(fields_) : DetectorOutputNames(fields_)),
        padding_(padding) {}

  std::vector<std::string> input_names() const override { return DetectorInputNames(); }
  std::vector<std::string> output_names() const override { return output_names_; }
  std::string output_schema_json() const override { return DetectorOutputSchemaJson(fields_); }
  absl::StatusOr<std::vector<at::Tensor>> MakeInputs(
      const std::vector<ImageInput>& batch) const override {
    return MakeDetectorInputs(batch, padding_.size_divisibility, padding_.square_size);
  }
  InputPadding input_padding() const override { return padding_; }

 protected:
  // The named outputs in output_names() order; throws c10::Error naming a missing one (Forward
  // runs under the tracer, which reports it).
  std::vector<at::Tensor> InOutputOrder(const std::map<std::string, at::Tensor>& named) const {
    std::vector<at::Tensor> outputs;
    outputs.reserve(output_names_.size());
    for (const std::string& name : output_names_) {
      auto it = named.find(name);
      TORCH_CHECK(it != named.end(), "detector graph: output '", name, "' was not produced");
      outputs.push_back(it->second);
    }
    return outputs;
  }

 private:
  std::vector<std::string> fields_;
  std::vector<std::string> output_names_;
  InputPadding padding_;
};

}  // namespace d2x::exporting

#endif  // D2X_CORE_EXPORT_DETECTOR_TRACEABLE_H_
