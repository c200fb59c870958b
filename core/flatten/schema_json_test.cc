#include "core/flatten/schema_json.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "core/flatten/schema.h"
#include "core/flatten/value.h"

namespace d2x::flatten {
namespace {

using ::testing::HasSubstr;

// docs/SPEC.md §A.2, verbatim: detectron2's real output for
// [{"instances": Instances(pred_boxes, pred_classes, pred_masks, scores)}].
constexpr char kSpecExample[] =
    R"({"_target_": "detectron2.export.flatten.ListSchema", "schemas": [{"_target_": "detectron2.export.flatten.DictSchema",
 "schemas": [{"_target_": "detectron2.export.flatten.InstancesSchema", "schemas": [
   {"_target_": "detectron2.export.flatten.TensorWrapSchema", "class_name": "detectron2.structures.Boxes"},
   {"_target_": "detectron2.export.flatten.IdentitySchema"}, {"_target_": "detectron2.export.flatten.IdentitySchema"},
   {"_target_": "detectron2.export.flatten.IdentitySchema"}], "sizes": [1, 1, 1, 1],
   "keys": ["pred_boxes", "pred_classes", "pred_masks", "scores"]}], "sizes": [5], "keys": ["instances"]}], "sizes": [5]})";

// The same text as Python's json.dumps writes it (one line; checked with /usr/bin/python3:
// json.dumps(json.loads(kSpecExample))).
constexpr char kSpecExampleOneLine[] =
    R"({"_target_": "detectron2.export.flatten.ListSchema", "schemas": [{"_target_": "detectron2.export.flatten.DictSchema", "schemas": [{"_target_": "detectron2.export.flatten.InstancesSchema", "schemas": [{"_target_": "detectron2.export.flatten.TensorWrapSchema", "class_name": "detectron2.structures.Boxes"}, {"_target_": "detectron2.export.flatten.IdentitySchema"}, {"_target_": "detectron2.export.flatten.IdentitySchema"}, {"_target_": "detectron2.export.flatten.IdentitySchema"}], "sizes": [1, 1, 1, 1], "keys": ["pred_boxes", "pred_classes", "pred_masks", "scores"]}], "sizes": [5], "keys": ["instances"]}], "sizes": [5]})";

std::string StripWhitespace(std::string s) {
  s.erase(std::remove_if(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); }),
          s.end());
  return s;
}

Value SpecExampleObject(int64_t n) {
  InstancesValue inst;
  inst.height = 480;
  inst.width = 640;
  inst.fields["pred_boxes"] = Value::Boxes(at::rand({n, 4}));
  inst.fields["pred_classes"] = at::zeros({n}, at::kLong);
  inst.fields["pred_masks"] = at::rand({n, 1, 28, 28});
  inst.fields["scores"] = at::rand({n});
  return Value::List({Value::Dict({{"instances", Value(inst)}})});
}

TEST(SchemaJsonTest, SpecExampleByteForByte) {
  Value obj = SpecExampleObject(3);
  auto flat = Flatten(obj, {FlattenOptions::Role::kOutputs, false});
  ASSERT_TRUE(flat.ok()) << flat.status();
  const std::string json = SchemaToJson(*flat->second);
  EXPECT_EQ(json, kSpecExampleOneLine);
  EXPECT_EQ(StripWhitespace(json), StripWhitespace(kSpecExample));

  // The flat tuple: (boxes[N,4], classes[N], masks[N,1,28,28], scores[N], image_size tensor([H,W])).
  ASSERT_EQ(flat->first.size(), 5u);
  EXPECT_EQ(flat->first[0].sizes(), at::IntArrayRef({3, 4}));
  EXPECT_EQ(flat->first[1].scalar_type(), at::kLong);
  EXPECT_EQ(flat->first[2].sizes(), at::IntArrayRef({3, 1, 28, 28}));
  EXPECT_EQ(flat->first[3].sizes(), at::IntArrayRef({3}));
  EXPECT_TRUE(at::equal(flat->first[4], at::tensor(std::vector<int64_t>{480, 640}, at::kLong)));
}

TEST(SchemaJsonTest, SpecExampleParsesAndRebuilds) {
  auto schema = SchemaFromJson(kSpecExample);
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_EQ(SchemaToJson(**schema), kSpecExampleOneLine);

  Value obj = SpecExampleObject(2);
  auto flat = Flatten(obj);
  ASSERT_TRUE(flat.ok());
  EXPECT_TRUE(**schema == *flat->second);
  auto rebuilt = (*schema)->Rebuild(flat->first);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_TRUE(ValuesEqual(*rebuilt, obj)) << rebuilt->DebugString();
  const InstancesValue& inst = rebuilt->items()[0].dict().at("instances").instances();
  EXPECT_EQ(inst.height, 480);
  EXPECT_EQ(inst.width, 640);
}

TEST(SchemaJsonTest, RoundTripsEveryKind) {
  InstancesValue inst;
  inst.height = 1;
  inst.width = 2;
  inst.fields["proposal_boxes"] = Value::Boxes(at::rand({1, 4}));
  inst.fields["objectness_logits"] = at::rand({1});
  Value obj = Value::Tuple(
      {Value::List({}), Value::Dict({}), Value(inst),
       Value(TensorWrapValue{kRoiMasksClass, at::rand({1, 28, 28})}),
       Value::List({Value::Tuple({at::rand({1})}), Value::Dict({{"z", at::rand({1})}})})});
  auto flat = Flatten(obj);
  ASSERT_TRUE(flat.ok()) << flat.status();
  const std::string json = SchemaToJson(*flat->second);
  auto parsed = SchemaFromJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << json;
  EXPECT_TRUE(**parsed == *flat->second);
  EXPECT_EQ(SchemaToJson(**parsed), json);
  EXPECT_THAT(json, HasSubstr(R"({"_target_": "detectron2.export.flatten.TupleSchema", "schemas": [{"_target_": "detectron2.export.flatten.ListSchema", "schemas": [], "sizes": []}, {"_target_": "detectron2.export.flatten.DictSchema", "schemas": [], "sizes": [], "keys": []}, )"));
  auto rebuilt = (*parsed)->Rebuild(flat->first);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_TRUE(ValuesEqual(*rebuilt, obj));
}

TEST(SchemaJsonTest, KeyOrderAndWhitespaceDoNotMatter) {
  auto schema = SchemaFromJson(
      R"({ "sizes":[1], "keys":["a"], "schemas":[{"_target_":"detectron2.export.flatten.IdentitySchema"}],
           "_target_":"detectron2.export.flatten.DictSchema" })");
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_EQ(SchemaToJson(**schema),
            R"({"_target_": "detectron2.export.flatten.DictSchema", "schemas": [{"_target_": "detectron2.export.flatten.IdentitySchema"}], "sizes": [1], "keys": ["a"]})");
}

TEST(SchemaJsonTest, PythonStringEscaping) {
  TensorWrapSchema schema("a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");  // é, U+1F600
  EXPECT_EQ(SchemaToJson(schema),
            R"({"_target_": "detectron2.export.flatten.TensorWrapSchema", "class_name": "a\"b\\c\n\u00e9\ud83d\ude00"})");
  auto parsed = SchemaFromJson(SchemaToJson(schema));
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(**parsed == schema);
}

void ExpectError(const std::string& json, const std::string& substring) {
  auto schema = SchemaFromJson(json);
  ASSERT_FALSE(schema.ok()) << json;
  EXPECT_EQ(schema.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(schema.status().message()), HasSubstr(substring)) << json;
}

TEST(SchemaJsonTest, Errors) {
  ExpectError("{", "not valid JSON");
  ExpectError("null", "allow_non_tensor");
  ExpectError("[]", "expected an object");
  ExpectError(R"({"sizes": []})", "$: missing field \"_target_\"");
  ExpectError(R"({"_target_": "detectron2.export.flatten.FooSchema"})",
              "$._target_: unknown schema class \"detectron2.export.flatten.FooSchema\"");
  ExpectError(R"({"_target_": "detectron2.export.flatten.ListSchema", "schemas": []})",
              "missing field \"sizes\"");
  ExpectError(R"({"_target_": "detectron2.export.flatten.ListSchema", "schemas": [{"_target_": "detectron2.export.flatten.IdentitySchema"}], "sizes": []})",
              "\"sizes\" has 0 entries but \"schemas\" has 1");
  ExpectError(R"({"_target_": "detectron2.export.flatten.ListSchema", "schemas": [{"_target_": "detectron2.export.flatten.IdentitySchema"}], "sizes": [2]})",
              "$.sizes[0]: size 2 does not match its schema, which takes 1 values");
  ExpectError(R"({"_target_": "detectron2.export.flatten.ListSchema", "schemas": [{"_target_": "detectron2.export.flatten.ListSchema", "schemas": [{"_target_": "x"}], "sizes": [1]}], "sizes": [1]})",
              "$.schemas[0].schemas[0]._target_: unknown schema class");
  ExpectError(R"({"_target_": "detectron2.export.flatten.DictSchema", "schemas": [{"_target_": "detectron2.export.flatten.IdentitySchema"}], "sizes": [1]})",
              "missing field \"keys\"");
  ExpectError(R"({"_target_": "detectron2.export.flatten.DictSchema", "schemas": [{"_target_": "detectron2.export.flatten.IdentitySchema"}, {"_target_": "detectron2.export.flatten.IdentitySchema"}], "sizes": [1, 1], "keys": ["b", "a"]})",
              "keys must be sorted");
  ExpectError(R"({"_target_": "detectron2.export.flatten.TensorWrapSchema"})",
              "missing field \"class_name\"");
  // An InstancesSchema's size in its parent counts image_size.
  ExpectError(R"({"_target_": "detectron2.export.flatten.ListSchema", "schemas": [{"_target_": "detectron2.export.flatten.InstancesSchema", "schemas": [{"_target_": "detectron2.export.flatten.IdentitySchema"}], "sizes": [1], "keys": ["scores"]}], "sizes": [1]})",
              "size 1 does not match its schema, which takes 2 values");
}

}  // namespace
}  // namespace d2x::flatten
