#include "core/flatten/value.h"

#include <ATen/ATen.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace d2x::flatten {

const Value::Items& Value::items() const {
  if (kind() == Kind::kTuple) return std::get<TupleData>(data_).items;
  return std::get<ListData>(data_).items;
}

std::string Value::TypeName() const {
  switch (kind()) {
    case Kind::kNone:
      return "<class 'NoneType'>";
    case Kind::kTensor:
      return "<class 'torch.Tensor'>";
    case Kind::kInt:
      return "<class 'int'>";
    case Kind::kDouble:
      return "<class 'float'>";
    case Kind::kString:
      return "<class 'str'>";
    case Kind::kList:
      return "<class 'list'>";
    case Kind::kTuple:
      return "<class 'tuple'>";
    case Kind::kDict:
      return "<class 'dict'>";
    case Kind::kInstances:
      return "<class 'detectron2.structures.instances.Instances'>";
    case Kind::kTensorWrap:
      return absl::StrCat("<class '", tensor_wrap().class_name, "'>");
  }
  return "<unknown>";
}

namespace {

std::string TensorString(const at::Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  return absl::StrCat("tensor(", c10::toString(t.scalar_type()), "[",
                      absl::StrJoin(t.sizes(), ", "), "])");
}

bool TensorsEqual(const at::Tensor& a, const at::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && at::equal(a, b);
}

}  // namespace

std::string Value::DebugString() const {
  switch (kind()) {
    case Kind::kNone:
      return "None";
    case Kind::kTensor:
      return TensorString(tensor());
    case Kind::kInt:
      return std::to_string(to_int());
    case Kind::kDouble:
      return absl::StrCat(to_double());
    case Kind::kString:
      return absl::StrCat("'", string(), "'");
    case Kind::kList:
    case Kind::kTuple: {
      std::string inner = absl::StrJoin(items(), ", ", [](std::string* out, const Value& v) {
        out->append(v.DebugString());
      });
      if (is_list()) return absl::StrCat("[", inner, "]");
      return absl::StrCat("(", inner, items().size() == 1 ? ",)" : ")");
    }
    case Kind::kDict:
      return absl::StrCat("{", absl::StrJoin(dict(), ", ", [](std::string* out, const auto& kv) {
                            absl::StrAppend(out, "'", kv.first, "': ", kv.second.DebugString());
                          }),
                          "}");
    case Kind::kInstances: {
      const InstancesValue& inst = instances();
      return absl::StrCat(
          "Instances(image_height=", inst.height, ", image_width=", inst.width, ", fields=[",
          absl::StrJoin(inst.fields, ", ",
                        [](std::string* out, const auto& kv) {
                          absl::StrAppend(out, kv.first, ": ", kv.second.DebugString());
                        }),
          "])");
    }
    case Kind::kTensorWrap:
      return absl::StrCat(tensor_wrap().class_name, "(", TensorString(tensor_wrap().tensor), ")");
  }
  return "<unknown>";
}

bool ValuesEqual(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kTensor:
      return TensorsEqual(a.tensor(), b.tensor());
    case Value::Kind::kInt:
      return a.to_int() == b.to_int();
    case Value::Kind::kDouble:
      return a.to_double() == b.to_double();
    case Value::Kind::kString:
      return a.string() == b.string();
    case Value::Kind::kList:
    case Value::Kind::kTuple: {
      if (a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i) {
        if (!ValuesEqual(a.items()[i], b.items()[i])) return false;
      }
      return true;
    }
    case Value::Kind::kDict: {
      if (a.dict().size() != b.dict().size()) return false;
      for (auto ia = a.dict().begin(), ib = b.dict().begin(); ia != a.dict().end(); ++ia, ++ib) {
        if (ia->first != ib->first || !ValuesEqual(ia->second, ib->second)) return false;
      }
      return true;
    }
    case Value::Kind::kInstances: {
      const InstancesValue& x = a.instances();
      const InstancesValue& y = b.instances();
      if (x.height != y.height || x.width != y.width || x.fields.size() != y.fields.size()) {
        return false;
      }
      for (auto ix = x.fields.begin(), iy = y.fields.begin(); ix != x.fields.end(); ++ix, ++iy) {
        if (ix->first != iy->first || !ValuesEqual(ix->second, iy->second)) return false;
      }
      return true;
    }
    case Value::Kind::kTensorWrap:
      return a.tensor_wrap().class_name == b.tensor_wrap().class_name &&
             TensorsEqual(a.tensor_wrap().tensor, b.tensor_wrap().tensor);
  }
  return false;
}

}  // namespace d2x::flatten
