// Schemas: how a structured Value is flattened into a tuple of tensors and rebuilt from it.
//
// The C++ counterpart of detectron2/export/flatten.py (TracingAdapter's machinery). Tracing only
// handles tuples of tensors, so a model's structured inputs/outputs (lists, dicts, Instances,
// Boxes) are flattened, and the Schema recorded while flattening rebuilds them from the flat
// tensors of a traced graph. Behaviour, order and messages follow detectron2:
//
//   schema            flatten                                        rebuild
//   IdentitySchema    (obj,)                                         values[0]
//   ListSchema        each element, concatenated; sizes = lengths    a list
//   TupleSchema       same                                           a tuple
//   DictSchema        values of the SORTED keys, as a list           a dict
//   InstancesSchema   fields as a DictSchema, then image_size        Instances (image_size from the
//                     (a tensor) appended; `sizes` EXCLUDES it        last value)
//   TensorWrapSchema  (obj.tensor,)                                  class_name(values[0])
//
// Dispatch (flatten_to_tuple): str → Identity, list → List, tuple → Tuple, dict → Dict,
// Instances → Instances, tensor wrapper (Boxes, ROIMasks, ...) → TensorWrap, else Identity.
//
// Deliberate difference: Rebuild checks the number of values against the schema at every level
// (detectron2 skips the check for empty containers and lets an Identity take extra values).
//
// JSON (detectron2's dump_dataclass form) lives in schema_json.h.
#ifndef D2X_CORE_FLATTEN_SCHEMA_H_
#define D2X_CORE_FLATTEN_SCHEMA_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/flatten/value.h"

namespace d2x::flatten {

class Schema {
 public:
  enum class Kind { kIdentity, kList, kTuple, kDict, kInstances, kTensorWrap };

  virtual ~Schema() = default;
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  Kind kind() const { return kind_; }

  // detectron2's class name, the JSON `_target_`: "detectron2.export.flatten.ListSchema", ...
  const char* target() const;

  // How many flat values this schema consumes (for InstancesSchema: its fields + image_size).
  virtual int64_t flat_size() const = 0;

  // Rebuilds the structured value from flat tensors (detectron2's `schema(values)`). Fails when
  // the number of values does not match the schema.
  absl::StatusOr<Value> Rebuild(const std::vector<at::Tensor>& values) const;
  // Same, from flat values of any kind (as produced by FlattenToTuple).
  absl::StatusOr<Value> RebuildValues(absl::Span<const Value> values) const;

  virtual std::unique_ptr<Schema> Clone() const = 0;

  // Dataclass equality: same class and same fields, recursively.
  virtual bool Equals(const Schema& other) const = 0;
  friend bool operator==(const Schema& a, const Schema& b) { return a.Equals(b); }
  friend bool operator!=(const Schema& a, const Schema& b) { return !a.Equals(b); }

 protected:
  explicit Schema(Kind kind) : kind_(kind) {}
  // `values.size()` has been checked against flat_size() by RebuildValues.
  virtual absl::StatusOr<Value> RebuildChecked(absl::Span<const Value> values) const = 0;

 private:
  Kind kind_;
};

class IdentitySchema : public Schema {
 public:
  IdentitySchema() : Schema(Kind::kIdentity) {}
  int64_t flat_size() const override { return 1; }
  std::unique_ptr<Schema> Clone() const override;
  bool Equals(const Schema& other) const override { return other.kind() == kind(); }

 protected:
  absl::StatusOr<Value> RebuildChecked(absl::Span<const Value> values) const override;
};

class ListSchema : public Schema {
 public:
  // `sizes[i]` is the flat length of element i; it must equal schemas[i]->flat_size().
  ListSchema(std::vector<std::unique_ptr<Schema>> schemas, std::vector<int64_t> sizes)
      : ListSchema(Kind::kList, std::move(schemas), std::move(sizes)) {}

  const std::vector<std::unique_ptr<Schema>>& schemas() const { return schemas_; }
  const std::vector<int64_t>& sizes() const { return sizes_; }

  int64_t flat_size() const override;
  std::unique_ptr<Schema> Clone() const override;
  bool Equals(const Schema& other) const override;

 protected:
  ListSchema(Kind kind, std::vector<std::unique_ptr<Schema>> schemas, std::vector<int64_t> sizes)
      : Schema(kind), schemas_(std::move(schemas)), sizes_(std::move(sizes)) {}
  std::vector<std::unique_ptr<Schema>> CloneSchemas() const;
  // Splits `values` by sizes and rebuilds each element.
  absl::StatusOr<std::vector<Value>> RebuildElements(absl::Span<const Value> values) const;
  absl::StatusOr<Value> RebuildChecked(absl::Span<const Value> values) const override;

 private:
  std::vector<std::unique_ptr<Schema>> schemas_;
  std::vector<int64_t> sizes_;
};

class TupleSchema : public ListSchema {
 public:
  TupleSchema(std::vector<std::unique_ptr<Schema>> schemas, std::vector<int64_t> sizes)
      : ListSchema(Kind::kTuple, std::move(schemas), std::move(sizes)) {}
  std::unique_ptr<Schema> Clone() const override;

 protected:
  absl::StatusOr<Value> RebuildChecked(absl::Span<const Value> values) const override;
};

class DictSchema : public ListSchema {
 public:
  // `keys` are sorted and parallel to `schemas`.
  DictSchema(std::vector<std::unique_ptr<Schema>> schemas, std::vector<int64_t> sizes,
             std::vector<std::string> keys)
      : DictSchema(Kind::kDict, std::move(schemas), std::move(sizes), std::move(keys)) {}

  const std::vector<std::string>& keys() const { return keys_; }
  std::unique_ptr<Schema> Clone() const override;
  bool Equals(const Schema& other) const override;

 protected:
  DictSchema(Kind kind, std::vector<std::unique_ptr<Schema>> schemas, std::vector<int64_t> sizes,
             std::vector<std::string> keys)
      : ListSchema(kind, std::move(schemas), std::move(sizes)), keys_(std::move(keys)) {}
  absl::StatusOr<Value> RebuildChecked(absl::Span<const Value> values) const override;

 private:
  std::vector<std::string> keys_;
};

// Fields as a DictSchema (sorted names); the flat values end with image_size, which `sizes` does
// not count.
class InstancesSchema : public DictSchema {
 public:
  InstancesSchema(std::vector<std::unique_ptr<Schema>> schemas, std::vector<int64_t> sizes,
                  std::vector<std::string> keys)
      : DictSchema(Kind::kInstances, std::move(schemas), std::move(sizes), std::move(keys)) {}

  int64_t flat_size() const override { return ListSchema::flat_size() + 1; }
  std::unique_ptr<Schema> Clone() const override;

 protected:
  absl::StatusOr<Value> RebuildChecked(absl::Span<const Value> values) const override;
};

class TensorWrapSchema : public Schema {
 public:
  explicit TensorWrapSchema(std::string class_name)
      : Schema(Kind::kTensorWrap), class_name_(std::move(class_name)) {}

  const std::string& class_name() const { return class_name_; }
  int64_t flat_size() const override { return 1; }
  std::unique_ptr<Schema> Clone() const override;
  bool Equals(const Schema& other) const override;

 protected:
  absl::StatusOr<Value> RebuildChecked(absl::Span<const Value> values) const override;

 private:
  std::string class_name_;
};

// detectron2's `flatten_to_tuple(obj)`: the flat leaves (of any kind) and the schema. Never fails.
std::pair<std::vector<Value>, std::unique_ptr<Schema>> FlattenToTuple(const Value& obj);

struct FlattenOptions {
  // Which side of the model is flattened; selects detectron2's error message.
  enum class Role { kInputs, kOutputs };
  Role role = Role::kInputs;
  // TracingAdapter's allow_non_tensor: drop non-tensor leaves instead of failing. The schema is
  // then null, because the value cannot be rebuilt from the tensors alone.
  bool allow_non_tensor = false;
};

// The flat tensors and the schema that rebuilds `obj` from them (null schema: see above).
using Flattened = std::pair<std::vector<at::Tensor>, std::unique_ptr<Schema>>;

// Flattens `obj` into tensors, as TracingAdapter does with inputs (role kInputs) and outputs
// (role kOutputs). Non-tensor leaves fail with detectron2's ValueError text:
//   inputs:  "Inputs for tracing must only contain tensors. Got a <class 'int'> instead."
//   outputs: "Model cannot be traced because some model outputs cannot flatten to tensors."
absl::StatusOr<Flattened> Flatten(const Value& obj, const FlattenOptions& options = {});

}  // namespace d2x::flatten

#endif  // D2X_CORE_FLATTEN_SCHEMA_H_
