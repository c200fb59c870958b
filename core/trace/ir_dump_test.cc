#include "core/trace/ir_dump.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/jit.h>
#include <torch/script.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "core/trace/trace.h"

namespace d2x::trace {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  fs::path dir = fs::path(base != nullptr ? base : "/tmp") / name;
  fs::remove_all(dir);
  return dir.string();
}

std::string Read(const fs::path& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

torch::jit::Module Scripted(const std::string& name) {
  torch::jit::Module m(c10::QualifiedName("__torch__." + name));
  m.register_attribute("training", c10::BoolType::get(), false);
  return m;
}

// Parent(child=Child(leaf=Leaf), other=Leaf)
torch::jit::Module Tree() {
  torch::jit::Module leaf = Scripted("Leaf");
  leaf.define("def forward(self, x):\n    return x + 1\n");
  torch::jit::Module child = Scripted("Child");
  child.register_module("leaf", leaf);
  child.define("def forward(self, x):\n    return self.leaf.forward(x) * 2\n");
  torch::jit::Module other = Scripted("Other");
  other.define("def forward(self, x):\n    return x - 3\n");
  torch::jit::Module parent = Scripted("Parent");
  parent.register_module("child", child);
  parent.register_module("other", other);
  parent.define("def forward(self, x):\n    return self.other.forward(self.child.forward(x))\n");
  return parent;
}

TEST(IrDumpTest, TracedModuleWritesFourNonEmptyFiles) {
  TraceFunction fn = [](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    return {at::relu(in[0]).sum(0), in[0] * 2};
  };
  auto module = TraceToModule(fn, {at::rand({3, 4})}, {"image"}, "d2x.Dumped");
  ASSERT_TRUE(module.ok()) << module.status();
  const std::string dir = TempDir("traced");
  ASSERT_TRUE(DumpTorchScriptIR(*module, dir).ok());
  for (const char* file : {kCodeFile, kIrFile, kInlinedIrFile, kModelFile}) {
    ASSERT_TRUE(fs::exists(fs::path(dir) / file)) << file;
    EXPECT_GT(fs::file_size(fs::path(dir) / file), 0u) << file;
  }
  const std::string code = Read(fs::path(dir) / kCodeFile);
  EXPECT_THAT(code, StartsWith("\nCode for root model, type=Dumped:\nclass Dumped(Module):\n"));
  EXPECT_THAT(code, HasSubstr("def forward(self: __torch__.d2x.Dumped,\n    image: Tensor)"));
  EXPECT_TRUE(absl::EndsWith(code, "\n" + std::string(80, '-'))) << code;
  EXPECT_EQ(Read(fs::path(dir) / kModelFile), "RecursiveScriptModule(original_name=Dumped)");
  const std::string ir = Read(fs::path(dir) / kIrFile);
  EXPECT_THAT(ir, StartsWith("module __torch__.d2x.Dumped {"));
  EXPECT_THAT(ir, HasSubstr("%image : Float(3, 4"));
  EXPECT_THAT(Read(fs::path(dir) / kInlinedIrFile), HasSubstr("aten::relu"));
}

TEST(IrDumpTest, SubmodulesRecursively) {
  torch::jit::Module tree = Tree();
  const std::string dir = TempDir("tree");
  ASSERT_TRUE(DumpTorchScriptIR(tree, dir).ok());

  const std::string code = Read(fs::path(dir) / kCodeFile);
  const std::string dashes(80, '-');
  const size_t root = code.find("\nCode for root model, type=Parent:\n");
  const size_t child = code.find(dashes + "\nCode for .child, type=Child:\n");
  const size_t leaf = code.find(dashes + "\nCode for .child.leaf, type=Leaf:\n");
  const size_t other = code.find(dashes + "\nCode for .other, type=Other:\n");
  EXPECT_EQ(root, 0u) << code;
  ASSERT_NE(child, std::string::npos) << code;
  ASSERT_NE(leaf, std::string::npos) << code;
  ASSERT_NE(other, std::string::npos) << code;
  EXPECT_LT(child, leaf);  // depth first, in registration order
  EXPECT_LT(leaf, other);

  EXPECT_EQ(Read(fs::path(dir) / kModelFile),
            "RecursiveScriptModule(\n"
            "  original_name=Parent\n"
            "  (child): RecursiveScriptModule(\n"
            "    original_name=Child\n"
            "    (leaf): RecursiveScriptModule(original_name=Leaf)\n"
            "  )\n"
            "  (other): RecursiveScriptModule(original_name=Other)\n"
            ")");
  const std::string ir = Read(fs::path(dir) / kIrFile);
  EXPECT_THAT(ir, HasSubstr("module __torch__.Parent {"));
  EXPECT_THAT(ir, HasSubstr("module __torch__.Leaf {"));
  EXPECT_THAT(ir, HasSubstr("prim::CallMethod"));
  const std::string inlined = Read(fs::path(dir) / kInlinedIrFile);
  EXPECT_THAT(inlined, ::testing::Not(HasSubstr("prim::CallMethod")));
  EXPECT_THAT(inlined, HasSubstr("aten::add"));
  EXPECT_THAT(inlined, HasSubstr("aten::sub"));
}

TEST(IrDumpTest, FunctionWritesThreeFiles) {
  auto cu = torch::jit::compile(
      "def helper(x):\n    return x * 2\n\n"
      "def f(x):\n    return helper(x) + 1\n");
  const std::string dir = TempDir("function");
  ASSERT_TRUE(DumpTorchScriptFunctionIR(cu->get_function("f"), dir).ok());
  for (const char* file : {kCodeFile, kIrFile, kInlinedIrFile}) {
    EXPECT_GT(fs::file_size(fs::path(dir) / file), 0u) << file;
  }
  EXPECT_FALSE(fs::exists(fs::path(dir) / kModelFile));
  EXPECT_THAT(Read(fs::path(dir) / kCodeFile), HasSubstr("def f(x: Tensor) -> Tensor:"));
  EXPECT_THAT(Read(fs::path(dir) / kIrFile), HasSubstr("prim::CallFunction"));
  EXPECT_THAT(Read(fs::path(dir) / kInlinedIrFile), HasSubstr("aten::mul"));
}

TEST(IrDumpTest, UnwritableDirectoryIsAnError) {
  const std::string dir = TempDir("file_not_dir");
  std::ofstream(dir) << "x";
  auto status = DumpTorchScriptIR(Tree(), dir + "/sub");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("cannot create directory"));
}

}  // namespace
}  // namespace d2x::trace
