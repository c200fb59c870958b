// TracingAdapter: makes a function on structured Values traceable (flat tensors in and out).
//
// The C++ counterpart of detectron2.export.TracingAdapter:
//   * Create() flattens the example inputs (wrapped into a 1-tuple unless already a tuple) and
//     records inputs_schema. A non-tensor input fails ("Inputs for tracing must only contain
//     tensors. Got a <class 'int'> instead.") unless allow_non_tensor, which drops it and leaves
//     no inputs_schema.
//   * Forward(flat tensors), under NoGradGuard: rebuilds the inputs with inputs_schema, calls the
//     model function, flattens its outputs, records outputs_schema on the first call and checks
//     that later calls return the same structure. Without inputs_schema, Forward only accepts the
//     very tensors of flattened_inputs() ("...cannot generalize to other inputs...").
//   * TraceFunction() adapts Forward to core/trace's function type.
#ifndef D2X_CORE_FLATTEN_TRACING_ADAPTER_H_
#define D2X_CORE_FLATTEN_TRACING_ADAPTER_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/flatten/schema.h"
#include "core/flatten/value.h"

namespace d2x::flatten {

class TracingAdapter {
 public:
  // detectron2's inference_func(model, *inputs): receives the elements of the inputs tuple.
  // It may throw (c10::Error, std::exception); Forward converts that into a status.
  using ModelFunction = std::function<Value(const std::vector<Value>& args)>;

  static absl::StatusOr<std::unique_ptr<TracingAdapter>> Create(ModelFunction model,
                                                                Value inputs,
                                                                bool allow_non_tensor = false);

  const std::vector<at::Tensor>& flattened_inputs() const { return flattened_inputs_; }
  // Null when allow_non_tensor dropped non-tensor inputs.
  const Schema* inputs_schema() const { return inputs_schema_.get(); }
  // Null before the first Forward, and when allow_non_tensor dropped non-tensor outputs.
  const Schema* outputs_schema() const { return outputs_schema_.get(); }

  absl::StatusOr<std::vector<at::Tensor>> Forward(const std::vector<at::Tensor>& args);

  // Forward as a plain function, for d2x::trace::TraceToModule; it throws std::runtime_error with
  // the status message on failure (TraceToModule turns that back into a status). The adapter
  // must outlive the function.
  std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&)> TraceFunction();

 private:
  TracingAdapter(ModelFunction model, Value inputs, bool allow_non_tensor)
      : model_(std::move(model)), inputs_(std::move(inputs)), allow_non_tensor_(allow_non_tensor) {}

  ModelFunction model_;
  Value inputs_;  // always a tuple
  bool allow_non_tensor_;
  std::vector<at::Tensor> flattened_inputs_;
  std::unique_ptr<Schema> inputs_schema_;
  std::unique_ptr<Schema> outputs_schema_;
};

}  // namespace d2x::flatten

#endif  // D2X_CORE_FLATTEN_TRACING_ADAPTER_H_
