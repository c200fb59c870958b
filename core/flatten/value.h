// Value: the structured objects that detectron2's flatten.py flattens (the C++ counterpart of the
// Python objects given to `flatten_to_tuple`).
//
// A Value is one of
//   None | Tensor | int | float (double) | str | list | tuple | dict (str keys) | Instances |
//   a tensor wrapper (detectron2's Boxes / RotatedBoxes / ROIMasks: a class name and one tensor).
// Dict keys are kept sorted (std::map), which is the order detectron2 flattens them in; Python's
// insertion order is therefore not represented. Instances fields are sorted the same way.
#ifndef D2X_CORE_FLATTEN_VALUE_H_
#define D2X_CORE_FLATTEN_VALUE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace d2x::flatten {

class Value;

// detectron2's class names of the tensor wrappers (TensorWrapSchema.class_name).
inline constexpr char kBoxesClass[] = "detectron2.structures.Boxes";
inline constexpr char kRotatedBoxesClass[] = "detectron2.structures.RotatedBoxes";
inline constexpr char kRoiMasksClass[] = "detectron2.structures.ROIMasks";

// detectron2's Instances: an image size and named fields (tensors or tensor wrappers).
struct InstancesValue {
  int64_t height = 0;
  int64_t width = 0;
  // The image size as a tensor. Flattening uses it as is when defined (a traced value keeps the
  // trace shape-generic) and `torch.tensor([height, width])` (int64) otherwise, as detectron2.
  // Rebuild sets it from the flat values, and height/width from its contents.
  at::Tensor image_size;
  std::map<std::string, Value> fields;  // sorted by name
};

// A class that wraps one tensor: Boxes, RotatedBoxes, ROIMasks (TensorWrapSchema).
struct TensorWrapValue {
  std::string class_name;  // e.g. kBoxesClass
  at::Tensor tensor;
};

class Value {
 public:
  enum class Kind {
    kNone,
    kTensor,
    kInt,
    kDouble,
    kString,
    kList,
    kTuple,
    kDict,
    kInstances,
    kTensorWrap,
  };
  using Items = std::vector<Value>;
  using Entries = std::map<std::string, Value>;

  Value() = default;  // None
  Value(at::Tensor tensor) : data_(std::move(tensor)) {}             // NOLINT: implicit
  Value(int64_t v) : data_(v) {}                                     // NOLINT: implicit
  Value(int v) : data_(static_cast<int64_t>(v)) {}                   // NOLINT: implicit
  Value(double v) : data_(v) {}                                      // NOLINT: implicit
  Value(std::string s) : data_(std::move(s)) {}                      // NOLINT: implicit
  Value(const char* s) : data_(std::string(s)) {}                    // NOLINT: implicit
  Value(InstancesValue instances) : data_(std::move(instances)) {}   // NOLINT: implicit
  Value(TensorWrapValue wrapped) : data_(std::move(wrapped)) {}      // NOLINT: implicit

  static Value List(Items items) { return Value(ListData{std::move(items)}); }
  static Value Tuple(Items items) { return Value(TupleData{std::move(items)}); }
  static Value Dict(Entries entries) { return Value(DictData{std::move(entries)}); }
  static Value Boxes(at::Tensor tensor) { return Value(TensorWrapValue{kBoxesClass, tensor}); }

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_tensor() const { return kind() == Kind::kTensor; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_tuple() const { return kind() == Kind::kTuple; }
  bool is_dict() const { return kind() == Kind::kDict; }
  bool is_instances() const { return kind() == Kind::kInstances; }
  bool is_tensor_wrap() const { return kind() == Kind::kTensorWrap; }

  // Accessors; calling the wrong one throws std::bad_variant_access (a programming error).
  const at::Tensor& tensor() const { return std::get<at::Tensor>(data_); }
  int64_t to_int() const { return std::get<int64_t>(data_); }
  double to_double() const { return std::get<double>(data_); }
  const std::string& string() const { return std::get<std::string>(data_); }
  // The elements of a list or a tuple.
  const Items& items() const;
  const Entries& dict() const { return std::get<DictData>(data_).entries; }
  const InstancesValue& instances() const { return std::get<InstancesValue>(data_); }
  const TensorWrapValue& tensor_wrap() const { return std::get<TensorWrapValue>(data_); }

  // Python's type name, as in detectron2's messages: "<class 'int'>", "<class 'list'>",
  // "<class 'torch.Tensor'>", "<class 'detectron2.structures.Boxes'>", ...
  std::string TypeName() const;

  // A short description for logs and test failures: "[tensor(float[2, 3]), {'a': 3}]".
  std::string DebugString() const;

 private:
  struct ListData {
    Items items;
  };
  struct TupleData {
    Items items;
  };
  struct DictData {
    Entries entries;
  };
  explicit Value(ListData d) : data_(std::move(d)) {}
  explicit Value(TupleData d) : data_(std::move(d)) {}
  explicit Value(DictData d) : data_(std::move(d)) {}

  // The order of the alternatives is the order of Kind.
  std::variant<std::monostate, at::Tensor, int64_t, double, std::string, ListData, TupleData,
               DictData, InstancesValue, TensorWrapValue>
      data_;
};

// Structural equality. Tensors are equal when they have the same dtype, shape and values
// (at::equal); an Instances' image size is compared by height/width. Lists and tuples differ.
bool ValuesEqual(const Value& a, const Value& b);

}  // namespace d2x::flatten

#endif  // D2X_CORE_FLATTEN_VALUE_H_
