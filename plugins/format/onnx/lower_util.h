// Small helpers shared by the lower_*.cc files.
#ifndef D2X_PLUGINS_FORMAT_ONNX_LOWER_UTIL_H_
#define D2X_PLUGINS_FORMAT_ONNX_LOWER_UTIL_H_

#include <string>
#include <vector>

#include "plugins/format/onnx/lowering.h"
#include "core/util/status_macros.h"

namespace d2x::onnx_format {

inline void SetInts(onnx::NodeProto* node, const std::string& name,
                    const std::vector<int64_t>& values) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}
inline void SetInt(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}
inline void SetFloat(onnx::NodeProto* node, const std::string& name, float value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}
inline void SetString(onnx::NodeProto* node, const std::string& name, const std::string& value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

}  // namespace d2x::onnx_format

#endif  // D2X_PLUGINS_FORMAT_ONNX_LOWER_UTIL_H_
