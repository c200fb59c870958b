#include "core/flatten/tracing_adapter.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/flatten/schema_json.h"
#include "core/util/status_macros.h"

namespace d2x::flatten {

absl::StatusOr<std::unique_ptr<TracingAdapter>> TracingAdapter::Create(ModelFunction model,
                                                                       Value inputs,
                                                                       bool allow_non_tensor) {
  if (!inputs.is_tuple()) inputs = Value::Tuple({std::move(inputs)});
  std::unique_ptr<TracingAdapter> adapter(
      new TracingAdapter(std::move(model), std::move(inputs), allow_non_tensor));
  FlattenOptions options;
  options.role = FlattenOptions::Role::kInputs;
  options.allow_non_tensor = allow_non_tensor;
  D2X_ASSIGN_OR_RETURN(Flattened flat, Flatten(adapter->inputs_, options));
  adapter->flattened_inputs_ = std::move(flat.first);
  adapter->inputs_schema_ = std::move(flat.second);
  return adapter;
}

absl::StatusOr<std::vector<at::Tensor>> TracingAdapter::Forward(
    const std::vector<at::Tensor>& args) {
  c10::NoGradGuard no_grad;
  Value inputs;
  if (inputs_schema_ != nullptr) {
    D2X_ASSIGN_OR_RETURN(inputs, inputs_schema_->Rebuild(args));
  } else {
    bool same = args.size() == flattened_inputs_.size();
    for (size_t i = 0; same && i < args.size(); ++i) same = args[i].is_same(flattened_inputs_[i]);
    if (!same) {
      return absl::InvalidArgumentError(
          "TracingAdapter does not contain valid inputs_schema. So it cannot generalize to other "
          "inputs and must be traced with `.flattened_inputs`.");
    }
    inputs = inputs_;
  }

  Value outputs;
  try {
    outputs = model_(inputs.items());
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("TracingAdapter: the model function failed: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("TracingAdapter: the model function failed: ", e.what()));
  }

  FlattenOptions options;
  options.role = FlattenOptions::Role::kOutputs;
  options.allow_non_tensor = allow_non_tensor_;
  D2X_ASSIGN_OR_RETURN(Flattened flat, Flatten(outputs, options));
  if (flat.second == nullptr) {  // non-tensor outputs were dropped
    outputs_schema_.reset();
  } else if (outputs_schema_ == nullptr) {
    outputs_schema_ = std::move(flat.second);
  } else if (*outputs_schema_ != *flat.second) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Model should always return outputs with the same structure so it can be traced! First: ",
        SchemaToJson(*outputs_schema_), "; now: ", SchemaToJson(*flat.second)));
  }
  return std::move(flat.first);
}

std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&)>
TracingAdapter::TraceFunction() {
  return [this](const std::vector<at::Tensor>& args) {
    absl::StatusOr<std::vector<at::Tensor>> out = Forward(args);
    if (!out.ok()) throw std::runtime_error(out.status().ToString());
    return *std::move(out);
  };
}

}  // namespace d2x::flatten
