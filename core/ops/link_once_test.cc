// The kernels may be loaded once per process: loading libd2x_ops.so into a binary that links
// //core/ops:ops must fail loudly (a second TORCH_LIBRARY(d2x)), not silently shadow the ops.
#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "core/ops/ops.h"

namespace d2x::ops {
namespace {

std::string LibraryPath() {
  return std::string(std::getenv("TEST_SRCDIR")) + "/" + std::getenv("TEST_WORKSPACE") +
         "/core/ops/libd2x_ops.so";
}

TEST(LinkOnceTest, OpsAreRegisteredByTheLinkedLibrary) {
  for (const char* op : {kRoiAlignOp, kNmsOp, kBatchedNmsOp}) {
    EXPECT_TRUE(c10::Dispatcher::singleton().findSchema({op, ""}).has_value()) << op;
  }
}

TEST(LinkOnceDeathTest, LoadingTheSharedLibraryAsWellAborts) {
  const std::string path = LibraryPath();
  EXPECT_DEATH(dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL),
               "Only a single TORCH_LIBRARY can be used to register the namespace d2x");
}

}  // namespace
}  // namespace d2x::ops
