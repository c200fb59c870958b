#include "core/flatten/schema.h"

#include <ATen/ATen.h>

#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/status_macros.h"

namespace d2x::flatten {

namespace {

const char* KindName(Schema::Kind kind) {
  switch (kind) {
    case Schema::Kind::kIdentity:
      return "IdentitySchema";
    case Schema::Kind::kList:
      return "ListSchema";
    case Schema::Kind::kTuple:
      return "TupleSchema";
    case Schema::Kind::kDict:
      return "DictSchema";
    case Schema::Kind::kInstances:
      return "InstancesSchema";
    case Schema::Kind::kTensorWrap:
      return "TensorWrapSchema";
  }
  return "Schema";
}

// Instances' image size from its flat value: a tensor with the two integers (height, width).
absl::Status SetImageSize(const Value& value, InstancesValue* instances) {
  if (!value.is_tensor() || !value.tensor().defined()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "InstancesSchema: the last value must be the image_size tensor, got ", value.DebugString()));
  }
  const at::Tensor& size = value.tensor();
  if (size.numel() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("InstancesSchema: image_size must have 2 elements (height, width), got a "
                     "tensor of shape [",
                     absl::StrJoin(size.sizes(), ", "), "]"));
  }
  at::Tensor hw = size.detach().reshape({2}).to(at::kCPU, at::kLong);
  instances->height = hw[0].item<int64_t>();
  instances->width = hw[1].item<int64_t>();
  instances->image_size = size;
  return absl::OkStatus();
}

}  // namespace

const char* Schema::target() const {
  switch (kind_) {
    case Kind::kIdentity:
      return "detectron2.export.flatten.IdentitySchema";
    case Kind::kList:
      return "detectron2.export.flatten.ListSchema";
    case Kind::kTuple:
      return "detectron2.export.flatten.TupleSchema";
    case Kind::kDict:
      return "detectron2.export.flatten.DictSchema";
    case Kind::kInstances:
      return "detectron2.export.flatten.InstancesSchema";
    case Kind::kTensorWrap:
      return "detectron2.export.flatten.TensorWrapSchema";
  }
  return "";
}

absl::StatusOr<Value> Schema::Rebuild(const std::vector<at::Tensor>& values) const {
  std::vector<Value> wrapped(values.begin(), values.end());
  return RebuildValues(wrapped);
}

absl::StatusOr<Value> Schema::RebuildValues(absl::Span<const Value> values) const {
  const int64_t expected = flat_size();
  if (static_cast<int64_t>(values.size()) != expected) {
    // detectron2's _split message, with the schema named.
    return absl::InvalidArgumentError(absl::StrCat(KindName(kind_), ": Values has length ",
                                                   values.size(), " but expect length ",
                                                   expected, "."));
  }
  return RebuildChecked(values);
}

// ---- IdentitySchema ------------------------------------------------------------------------

std::unique_ptr<Schema> IdentitySchema::Clone() const {
  return std::make_unique<IdentitySchema>();
}

absl::StatusOr<Value> IdentitySchema::RebuildChecked(absl::Span<const Value> values) const {
  return values[0];
}

// ---- ListSchema ----------------------------------------------------------------------------

int64_t ListSchema::flat_size() const {
  return std::accumulate(sizes_.begin(), sizes_.end(), int64_t{0});
}

std::vector<std::unique_ptr<Schema>> ListSchema::CloneSchemas() const {
  std::vector<std::unique_ptr<Schema>> out;
  out.reserve(schemas_.size());
  for (const auto& s : schemas_) out.push_back(s->Clone());
  return out;
}

std::unique_ptr<Schema> ListSchema::Clone() const {
  return std::make_unique<ListSchema>(CloneSchemas(), sizes_);
}

bool ListSchema::Equals(const Schema& other) const {
  if (other.kind() != kind()) return false;
  const auto& o = static_cast<const ListSchema&>(other);
  if (o.sizes_ != sizes_ || o.schemas_.size() != schemas_.size()) return false;
  for (size_t i = 0; i < schemas_.size(); ++i) {
    if (!schemas_[i]->Equals(*o.schemas_[i])) return false;
  }
  return true;
}

absl::StatusOr<std::vector<Value>> ListSchema::RebuildElements(
    absl::Span<const Value> values) const {
  if (sizes_.size() != schemas_.size()) {
    // detectron2's ListSchema.__call__ message.
    return absl::InvalidArgumentError(absl::StrCat(KindName(kind()), ": Values has length ",
                                                   sizes_.size(), " but schemas has length ",
                                                   schemas_.size(), "!"));
  }
  std::vector<Value> elements;
  elements.reserve(schemas_.size());
  size_t begin = 0;
  for (size_t k = 0; k < schemas_.size(); ++k) {
    const int64_t size = sizes_[k];
    if (size < 0 || begin + static_cast<size_t>(size) > values.size()) {
      return absl::InvalidArgumentError(absl::StrCat(KindName(kind()), ": invalid size ", size,
                                                     " of element ", k));
    }
    D2X_ASSIGN_OR_RETURN(Value element, schemas_[k]->RebuildValues(values.subspan(begin, size)));
    elements.push_back(std::move(element));
    begin += size;
  }
  return elements;
}

absl::StatusOr<Value> ListSchema::RebuildChecked(absl::Span<const Value> values) const {
  D2X_ASSIGN_OR_RETURN(std::vector<Value> elements, RebuildElements(values));
  return Value::List(std::move(elements));
}

// ---- TupleSchema ---------------------------------------------------------------------------

std::unique_ptr<Schema> TupleSchema::Clone() const {
  return std::make_unique<TupleSchema>(CloneSchemas(), sizes());
}

absl::StatusOr<Value> TupleSchema::RebuildChecked(absl::Span<const Value> values) const {
  D2X_ASSIGN_OR_RETURN(std::vector<Value> elements, RebuildElements(values));
  return Value::Tuple(std::move(elements));
}

// ---- DictSchema ----------------------------------------------------------------------------

std::unique_ptr<Schema> DictSchema::Clone() const {
  return std::make_unique<DictSchema>(CloneSchemas(), sizes(), keys_);
}

bool DictSchema::Equals(const Schema& other) const {
  return ListSchema::Equals(other) && static_cast<const DictSchema&>(other).keys_ == keys_;
}

absl::StatusOr<Value> DictSchema::RebuildChecked(absl::Span<const Value> values) const {
  if (keys_.size() != schemas().size()) {
    return absl::InvalidArgumentError(absl::StrCat(KindName(kind()), ": ", keys_.size(),
                                                   " keys but ", schemas().size(), " schemas"));
  }
  D2X_ASSIGN_OR_RETURN(std::vector<Value> elements, RebuildElements(values));
  Value::Entries entries;
  for (size_t i = 0; i < keys_.size(); ++i) entries[keys_[i]] = std::move(elements[i]);
  return Value::Dict(std::move(entries));
}

// ---- InstancesSchema -----------------------------------------------------------------------

std::unique_ptr<Schema> InstancesSchema::Clone() const {
  return std::make_unique<InstancesSchema>(CloneSchemas(), sizes(), keys());
}

absl::StatusOr<Value> InstancesSchema::RebuildChecked(absl::Span<const Value> values) const {
  // image_size, fields = values[-1], values[:-1]
  D2X_ASSIGN_OR_RETURN(Value fields, DictSchema::RebuildChecked(values.first(values.size() - 1)));
  InstancesValue instances;
  absl::Status status = SetImageSize(values.back(), &instances);
  if (!status.ok()) return status;
  instances.fields = fields.dict();
  return Value(std::move(instances));
}

// ---- TensorWrapSchema ----------------------------------------------------------------------

std::unique_ptr<Schema> TensorWrapSchema::Clone() const {
  return std::make_unique<TensorWrapSchema>(class_name_);
}

bool TensorWrapSchema::Equals(const Schema& other) const {
  return other.kind() == kind() &&
         static_cast<const TensorWrapSchema&>(other).class_name_ == class_name_;
}

absl::StatusOr<Value> TensorWrapSchema::RebuildChecked(absl::Span<const Value> values) const {
  if (!values[0].is_tensor()) {
    return absl::InvalidArgumentError(absl::StrCat("TensorWrapSchema(", class_name_,
                                                   "): expected a tensor, got ",
                                                   values[0].TypeName()));
  }
  return Value(TensorWrapValue{class_name_, values[0].tensor()});
}

// ---- flattening ----------------------------------------------------------------------------

namespace {

// Flattens the elements of a list/tuple/dict: concatenated leaves, schemas and sizes.
template <typename Range, typename Get>
void FlattenElements(const Range& range, Get get, std::vector<Value>* leaves,
                     std::vector<std::unique_ptr<Schema>>* schemas, std::vector<int64_t>* sizes) {
  for (const auto& element : range) {
    auto [values, schema] = FlattenToTuple(get(element));
    sizes->push_back(static_cast<int64_t>(values.size()));
    schemas->push_back(std::move(schema));
    for (Value& v : values) leaves->push_back(std::move(v));
  }
}

std::pair<std::vector<Value>, std::unique_ptr<Schema>> FlattenDict(
    const Value::Entries& entries, bool instances) {
  std::vector<Value> leaves;
  std::vector<std::unique_ptr<Schema>> schemas;
  std::vector<int64_t> sizes;
  std::vector<std::string> keys;
  keys.reserve(entries.size());
  for (const auto& kv : entries) keys.push_back(kv.first);  // std::map: sorted
  FlattenElements(
      entries, [](const auto& kv) -> const Value& { return kv.second; }, &leaves, &schemas,
      &sizes);
  std::unique_ptr<Schema> schema;
  if (instances) {
    schema = std::make_unique<InstancesSchema>(std::move(schemas), std::move(sizes),
                                               std::move(keys));
  } else {
    schema = std::make_unique<DictSchema>(std::move(schemas), std::move(sizes), std::move(keys));
  }
  return {std::move(leaves), std::move(schema)};
}

}  // namespace

std::pair<std::vector<Value>, std::unique_ptr<Schema>> FlattenToTuple(const Value& obj) {
  switch (obj.kind()) {
    case Value::Kind::kList:
    case Value::Kind::kTuple: {
      std::vector<Value> leaves;
      std::vector<std::unique_ptr<Schema>> schemas;
      std::vector<int64_t> sizes;
      FlattenElements(
          obj.items(), [](const Value& v) -> const Value& { return v; }, &leaves, &schemas,
          &sizes);
      std::unique_ptr<Schema> schema;
      if (obj.is_list()) {
        schema = std::make_unique<ListSchema>(std::move(schemas), std::move(sizes));
      } else {
        schema = std::make_unique<TupleSchema>(std::move(schemas), std::move(sizes));
      }
      return {std::move(leaves), std::move(schema)};
    }
    case Value::Kind::kDict:
      return FlattenDict(obj.dict(), /*instances=*/false);
    case Value::Kind::kInstances: {
      const InstancesValue& inst = obj.instances();
      auto result = FlattenDict(inst.fields, /*instances=*/true);
      // `sizes` stays without the image_size slot.
      at::Tensor size = inst.image_size.defined()
                            ? inst.image_size
                            : at::tensor(std::vector<int64_t>{inst.height, inst.width}, at::kLong);
      result.first.emplace_back(std::move(size));
      return result;
    }
    case Value::Kind::kTensorWrap:
      return {std::vector<Value>{Value(obj.tensor_wrap().tensor)},
              std::make_unique<TensorWrapSchema>(obj.tensor_wrap().class_name)};
    default:  // str, tensor, int, float, None
      return {std::vector<Value>{obj}, std::make_unique<IdentitySchema>()};
  }
}

absl::StatusOr<Flattened> Flatten(const Value& obj, const FlattenOptions& options) {
  auto [leaves, schema] = FlattenToTuple(obj);
  std::vector<at::Tensor> tensors;
  tensors.reserve(leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i) {
    const Value& leaf = leaves[i];
    if (leaf.is_tensor() && leaf.tensor().defined()) {
      tensors.push_back(leaf.tensor());
      continue;
    }
    if (options.allow_non_tensor) {
      schema.reset();  // cannot rebuild from the tensors alone
      continue;
    }
    const std::string type = leaf.is_tensor() ? "undefined tensor" : leaf.TypeName();
    if (options.role == FlattenOptions::Role::kInputs) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Inputs for tracing must only contain tensors. Got a ", type, " instead."));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "Model cannot be traced because some model outputs cannot flatten to tensors. (flat "
        "output ",
        i, " is a ", type, ")"));
  }
  return Flattened(std::move(tensors), std::move(schema));
}

}  // namespace d2x::flatten
