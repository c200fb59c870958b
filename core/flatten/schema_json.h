// Schema <-> JSON in detectron2's form: `json.dumps(dump_dataclass(schema))`.
//
//   {"_target_": "detectron2.export.flatten.ListSchema", "schemas": [...], "sizes": [5]}
//   {"_target_": "detectron2.export.flatten.DictSchema", "schemas": [...], "sizes": [...],
//    "keys": ["instances"]}
//   {"_target_": "detectron2.export.flatten.IdentitySchema"}
//   {"_target_": "detectron2.export.flatten.TensorWrapSchema",
//    "class_name": "detectron2.structures.Boxes"}
//
// SchemaToJson writes the dataclass fields in declaration order with Python's default separators
// (", " and ": ", ASCII only), so the text equals what detectron2 writes with json.dumps.
// SchemaFromJson is detectron2's `instantiate(json.loads(text))`, plus validation: every error
// names the JSON path ("$.schemas[0].sizes") and what was expected.
#ifndef D2X_CORE_FLATTEN_SCHEMA_JSON_H_
#define D2X_CORE_FLATTEN_SCHEMA_JSON_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/flatten/schema.h"

namespace d2x::flatten {

std::string SchemaToJson(const Schema& schema);

// Accepts any key order and whitespace. Checks that sizes/keys are parallel to schemas and that
// each size equals the flat size of its schema. `null` (a schema lost to allow_non_tensor) is an
// error.
absl::StatusOr<std::unique_ptr<Schema>> SchemaFromJson(std::string_view json);

}  // namespace d2x::flatten

#endif  // D2X_CORE_FLATTEN_SCHEMA_JSON_H_
