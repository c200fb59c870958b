// detectron2's tests/test_export_torchscript.py flatten tests (test_flatten_basic,
// test_flatten_instances_boxes, the non-tensor part of test_allow_non_tensor), reproduced.
#include "core/flatten/schema.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/flatten/schema_json.h"
#include "core/flatten/value.h"

namespace d2x::flatten {
namespace {

using ::testing::HasSubstr;

at::Tensor T(double v) { return at::full({1}, v, at::kFloat); }

// [3, ([5, 6], {"name": [7, 9], "name2": 3})]
Value BasicObject(bool tensors) {
  auto leaf = [tensors](int v) { return tensors ? Value(T(v)) : Value(v); };
  return Value::List({leaf(3), Value::Tuple({Value::List({leaf(5), leaf(6)}),
                                             Value::Dict({{"name", Value::List({leaf(7), leaf(9)})},
                                                          {"name2", leaf(3)}})})});
}

TEST(FlattenTest, BasicWithPythonLeaves) {
  // Exactly detectron2's test: ints as leaves, through flatten_to_tuple.
  Value obj = BasicObject(/*tensors=*/false);
  auto [res, schema] = FlattenToTuple(obj);
  ASSERT_EQ(res.size(), 6u);
  const std::vector<int64_t> expected = {3, 5, 6, 7, 9, 3};
  for (size_t i = 0; i < res.size(); ++i) EXPECT_EQ(res[i].to_int(), expected[i]);

  auto rebuilt = schema->RebuildValues(res);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_TRUE(ValuesEqual(*rebuilt, obj)) << rebuilt->DebugString();

  // schema __eq__ and JSON round trip (dump_dataclass + instantiate).
  auto [res2, schema2] = FlattenToTuple(obj);
  EXPECT_TRUE(*schema == *schema2);
  auto parsed = SchemaFromJson(SchemaToJson(*schema));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(**parsed == *schema);
}

TEST(FlattenTest, BasicWithTensors) {
  Value obj = BasicObject(/*tensors=*/true);
  auto flat = Flatten(obj);
  ASSERT_TRUE(flat.ok()) << flat.status();
  auto& [tensors, schema] = *flat;
  ASSERT_EQ(tensors.size(), 6u);
  const std::vector<float> expected = {3, 5, 6, 7, 9, 3};
  for (size_t i = 0; i < tensors.size(); ++i) EXPECT_EQ(tensors[i].item<float>(), expected[i]);
  ASSERT_NE(schema, nullptr);
  EXPECT_EQ(schema->kind(), Schema::Kind::kList);
  EXPECT_EQ(schema->flat_size(), 6);
  EXPECT_EQ(static_cast<const ListSchema&>(*schema).sizes(), (std::vector<int64_t>{1, 5}));

  auto rebuilt = schema->Rebuild(tensors);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_TRUE(ValuesEqual(*rebuilt, obj)) << rebuilt->DebugString();
  // The tuple stays a tuple, the dict keeps its keys.
  const Value& tuple = rebuilt->items()[1];
  ASSERT_TRUE(tuple.is_tuple());
  EXPECT_TRUE(tuple.items()[1].is_dict());
  EXPECT_EQ(tuple.items()[1].dict().count("name2"), 1u);

  auto parsed = SchemaFromJson(SchemaToJson(*schema));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(**parsed == *schema);
  auto rebuilt2 = (*parsed)->Rebuild(tensors);
  ASSERT_TRUE(rebuilt2.ok());
  EXPECT_TRUE(ValuesEqual(*rebuilt2, obj));
}

TEST(FlattenTest, DictKeysAreSorted) {
  Value obj = Value::Dict({{"b", T(2)}, {"a", T(1)}, {"c", T(3)}});
  auto flat = Flatten(obj);
  ASSERT_TRUE(flat.ok());
  const auto& dict = static_cast<const DictSchema&>(*flat->second);
  EXPECT_EQ(dict.keys(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(flat->first[0].item<float>(), 1.f);
  EXPECT_EQ(flat->first[2].item<float>(), 3.f);
}

TEST(FlattenTest, InstancesWithBoxes) {
  at::Tensor boxes = at::rand({5, 4});
  at::Tensor scores = at::rand({5});
  at::Tensor classes = at::arange(5, at::kLong);
  InstancesValue inst;
  inst.height = 10;
  inst.width = 20;
  inst.fields["pred_boxes"] = Value::Boxes(boxes);
  inst.fields["scores"] = scores;
  inst.fields["pred_classes"] = classes;
  Value obj(inst);

  auto flat = Flatten(obj);
  ASSERT_TRUE(flat.ok()) << flat.status();
  auto& [tensors, schema] = *flat;
  // Sorted fields, then image_size; the field values are the very same tensors (assertIs).
  ASSERT_EQ(tensors.size(), 4u);
  EXPECT_TRUE(tensors[0].is_same(boxes));
  EXPECT_TRUE(tensors[1].is_same(classes));
  EXPECT_TRUE(tensors[2].is_same(scores));
  EXPECT_EQ(tensors[3].scalar_type(), at::kLong);
  EXPECT_TRUE(at::equal(tensors[3], at::tensor(std::vector<int64_t>{10, 20}, at::kLong)));

  ASSERT_EQ(schema->kind(), Schema::Kind::kInstances);
  const auto& is = static_cast<const InstancesSchema&>(*schema);
  EXPECT_EQ(is.keys(), (std::vector<std::string>{"pred_boxes", "pred_classes", "scores"}));
  EXPECT_EQ(is.sizes(), (std::vector<int64_t>{1, 1, 1}));  // image_size not included
  EXPECT_EQ(is.flat_size(), 4);
  ASSERT_EQ(is.schemas()[0]->kind(), Schema::Kind::kTensorWrap);
  EXPECT_EQ(static_cast<const TensorWrapSchema&>(*is.schemas()[0]).class_name(),
            "detectron2.structures.Boxes");

  auto rebuilt = schema->Rebuild(tensors);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_TRUE(ValuesEqual(*rebuilt, obj)) << rebuilt->DebugString();  // rtol = 0
  const InstancesValue& out = rebuilt->instances();
  EXPECT_EQ(out.height, 10);
  EXPECT_EQ(out.width, 20);
  EXPECT_TRUE(out.image_size.is_same(tensors[3]));  // image_size comes back as a tensor
  EXPECT_TRUE(out.fields.at("pred_boxes").tensor_wrap().tensor.is_same(boxes));
}

TEST(FlattenTest, InstancesKeepsTracedImageSizeTensor) {
  InstancesValue inst;
  inst.image_size = at::tensor(std::vector<int64_t>{7, 9}, at::kLong);
  inst.fields["scores"] = at::rand({2});
  auto flat = Flatten(Value(inst));
  ASSERT_TRUE(flat.ok());
  EXPECT_TRUE(flat->first.back().is_same(inst.image_size));
}

TEST(FlattenTest, NonTensorInputIsAnError) {
  Value obj = Value::List({T(1), Value(3)});
  auto flat = Flatten(obj);
  ASSERT_FALSE(flat.ok());
  EXPECT_EQ(flat.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(flat.status().message(),
            "Inputs for tracing must only contain tensors. Got a <class 'int'> instead.");

  FlattenOptions outputs;
  outputs.role = FlattenOptions::Role::kOutputs;
  auto out = Flatten(Value::Dict({{"x", T(1)}, {"name", "abc"}}), outputs);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("Model cannot be traced because some model outputs cannot flatten to "
                        "tensors."));
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("<class 'str'>"));
}

TEST(FlattenTest, AllowNonTensorDropsLeavesAndSchema) {
  FlattenOptions options;
  options.allow_non_tensor = true;
  auto flat = Flatten(Value::List({T(1), Value(3), Value(2.5), T(4)}), options);
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ(flat->first.size(), 2u);
  EXPECT_EQ(flat->second, nullptr);
}

TEST(RebuildTest, SizeMismatch) {
  auto flat = Flatten(BasicObject(/*tensors=*/true));
  ASSERT_TRUE(flat.ok());
  std::vector<at::Tensor> fewer(flat->first.begin(), flat->first.end() - 1);
  auto rebuilt = flat->second->Rebuild(fewer);
  ASSERT_FALSE(rebuilt.ok());
  EXPECT_EQ(rebuilt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rebuilt.status().message(), "ListSchema: Values has length 5 but expect length 6.");

  std::vector<at::Tensor> more = flat->first;
  more.push_back(T(0));
  EXPECT_FALSE(flat->second->Rebuild(more).ok());

  // Stricter than detectron2: an identity takes exactly one value, an empty list none.
  EXPECT_FALSE(IdentitySchema().Rebuild({T(1), T(2)}).ok());
  EXPECT_FALSE(ListSchema({}, {}).Rebuild({T(1)}).ok());
  auto empty = ListSchema({}, {}).Rebuild({});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->is_list());
  EXPECT_TRUE(empty->items().empty());
}

TEST(RebuildTest, InstancesNeedsTwoElementImageSize) {
  std::vector<std::unique_ptr<Schema>> schemas;
  schemas.push_back(std::make_unique<IdentitySchema>());
  InstancesSchema schema(std::move(schemas), {1}, {"scores"});
  auto bad = schema.Rebuild({at::rand({3}), at::zeros({3}, at::kLong)});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("image_size must have 2 elements"));
}

TEST(SchemaTest, EqualityIsByClassAndFields) {
  auto [l, list_schema] = FlattenToTuple(Value::List({T(1), T(2)}));
  auto [t, tuple_schema] = FlattenToTuple(Value::Tuple({T(1), T(2)}));
  EXPECT_FALSE(*list_schema == *tuple_schema);
  auto [b, boxes] = FlattenToTuple(Value::Boxes(at::rand({1, 4})));
  auto [r, rotated] = FlattenToTuple(Value(TensorWrapValue{kRotatedBoxesClass, at::rand({1, 5})}));
  EXPECT_FALSE(*boxes == *rotated);
  EXPECT_TRUE(*boxes == *boxes->Clone());
  auto [d1, dict1] = FlattenToTuple(Value::Dict({{"a", T(1)}}));
  auto [d2, dict2] = FlattenToTuple(Value::Dict({{"b", T(1)}}));
  EXPECT_FALSE(*dict1 == *dict2);
  EXPECT_TRUE(*dict1 == *dict1->Clone());
}

TEST(SchemaTest, StringsAndNoneAreIdentityLeaves) {
  auto [values, schema] = FlattenToTuple(Value::List({"abc", Value()}));
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0].string(), "abc");
  EXPECT_TRUE(values[1].is_none());
  auto rebuilt = schema->RebuildValues(values);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(rebuilt->items()[0].string(), "abc");
}

}  // namespace
}  // namespace d2x::flatten
