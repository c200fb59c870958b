#include "core/flatten/tracing_adapter.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "core/flatten/schema_json.h"

namespace d2x::flatten {
namespace {

using ::testing::HasSubstr;

// A "model" taking [{"image": x}] and returning [{"instances": Instances(scores, pred_boxes)}].
Value FakeDetector(const std::vector<Value>& args) {
  const at::Tensor& image = args[0].items()[0].dict().at("image").tensor();
  InstancesValue inst;
  inst.height = image.size(1);
  inst.width = image.size(2);
  inst.fields["scores"] = image.mean(at::IntArrayRef{0, 1});
  inst.fields["pred_boxes"] = Value::Boxes(image.mean(0).narrow(0, 0, 4));
  return Value::List({Value::Dict({{"instances", Value(inst)}})});
}

TEST(TracingAdapterTest, FlattensInputsAndOutputs) {
  at::Tensor image = at::rand({3, 6, 5});
  Value inputs = Value::List({Value::Dict({{"image", image}})});
  auto adapter = TracingAdapter::Create(FakeDetector, inputs);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  TracingAdapter& a = **adapter;
  ASSERT_EQ(a.flattened_inputs().size(), 1u);
  EXPECT_TRUE(a.flattened_inputs()[0].is_same(image));
  ASSERT_NE(a.inputs_schema(), nullptr);
  EXPECT_EQ(a.inputs_schema()->kind(), Schema::Kind::kTuple);  // inputs wrapped into (inputs,)
  EXPECT_EQ(a.outputs_schema(), nullptr);

  auto out = a.Forward(a.flattened_inputs());
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 3u);  // pred_boxes, scores, image_size
  EXPECT_TRUE(at::equal((*out)[2], at::tensor(std::vector<int64_t>{6, 5}, at::kLong)));
  ASSERT_NE(a.outputs_schema(), nullptr);
  EXPECT_EQ(SchemaToJson(*a.outputs_schema()),
            R"({"_target_": "detectron2.export.flatten.ListSchema", "schemas": [{"_target_": "detectron2.export.flatten.DictSchema", "schemas": [{"_target_": "detectron2.export.flatten.InstancesSchema", "schemas": [{"_target_": "detectron2.export.flatten.TensorWrapSchema", "class_name": "detectron2.structures.Boxes"}, {"_target_": "detectron2.export.flatten.IdentitySchema"}], "sizes": [1, 1], "keys": ["pred_boxes", "scores"]}], "sizes": [3], "keys": ["instances"]}], "sizes": [3]})");

  // Another input of another size: same structure, rebuilt outputs equal the model's.
  at::Tensor other = at::rand({3, 8, 4});
  auto out2 = a.Forward({other});
  ASSERT_TRUE(out2.ok()) << out2.status();
  auto rebuilt = a.outputs_schema()->Rebuild(*out2);
  ASSERT_TRUE(rebuilt.ok());
  Value expected = FakeDetector({Value::List({Value::Dict({{"image", other}})})});
  EXPECT_TRUE(ValuesEqual(*rebuilt, expected));

  // Through TraceFunction (what core/trace calls).
  auto fn = a.TraceFunction();
  EXPECT_EQ(fn({other}).size(), 3u);
  EXPECT_THROW(fn({other, other}), std::runtime_error);
}

TEST(TracingAdapterTest, RunsWithoutGrad) {
  at::Tensor w = at::rand({2}).set_requires_grad(true);
  auto model = [w](const std::vector<Value>& args) { return Value(args[0].tensor() * w); };
  auto adapter = TracingAdapter::Create(model, Value(at::rand({2})));
  ASSERT_TRUE(adapter.ok());
  auto out = (*adapter)->Forward((*adapter)->flattened_inputs());
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE((*out)[0].requires_grad());
}

TEST(TracingAdapterTest, ChangingOutputStructureIsAnError) {
  auto model = [](const std::vector<Value>& args) {
    const at::Tensor& x = args[0].tensor();
    if (x.size(0) == 2) return Value::List({x});
    return Value::Tuple({x});
  };
  auto adapter = TracingAdapter::Create(model, Value(at::rand({2})));
  ASSERT_TRUE(adapter.ok());
  ASSERT_TRUE((*adapter)->Forward({at::rand({2})}).ok());
  auto out = (*adapter)->Forward({at::rand({3})});
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("Model should always return outputs with the same structure so it can be "
                        "traced!"));
}

TEST(TracingAdapterTest, ModelExceptionsBecomeStatus) {
  auto model = [](const std::vector<Value>& args) -> Value {
    return Value(args[0].tensor().view({7, 7}));  // c10::Error
  };
  auto adapter = TracingAdapter::Create(model, Value(at::rand({2})));
  ASSERT_TRUE(adapter.ok());
  auto out = (*adapter)->Forward((*adapter)->flattened_inputs());
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("the model function failed"));
}

// detectron2's test_allow_non_tensor.
TEST(TracingAdapterTest, AllowNonTensor) {
  at::Tensor data = at::rand({5});
  auto model = [](const std::vector<Value>& args) {
    const Value& dict = args[0];
    return Value::Tuple({dict.dict().at("data").tensor() * 2, Value(dict.dict().at("s").to_int())});
  };
  Value inputs = Value::Dict({{"data", data}, {"s", Value(1)}});

  auto rejected = TracingAdapter::Create(model, inputs);
  ASSERT_FALSE(rejected.ok());
  EXPECT_THAT(std::string(rejected.status().message()), HasSubstr("must only contain tensors"));

  auto adapter = TracingAdapter::Create(model, inputs, /*allow_non_tensor=*/true);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  TracingAdapter& a = **adapter;
  EXPECT_EQ(a.inputs_schema(), nullptr);
  ASSERT_EQ(a.flattened_inputs().size(), 1u);
  auto out = a.Forward(a.flattened_inputs());
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 1u);  // the int output is dropped
  EXPECT_TRUE(at::equal((*out)[0], data * 2));
  EXPECT_EQ(a.outputs_schema(), nullptr);

  auto other = a.Forward({at::rand({5})});
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("cannot generalize"));
}

}  // namespace
}  // namespace d2x::flatten
