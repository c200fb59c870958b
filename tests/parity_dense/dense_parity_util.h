// Shared setup of the dense-model parity tests (RetinaNet, PanopticFPN): the fixture model built
// once from <fixtures>/<arch>. Inputs and tensor comparisons are tests/parity/parity_util's.
#ifndef D2X_TESTS_PARITY_DENSE_DENSE_PARITY_UTIL_H_
#define D2X_TESTS_PARITY_DENSE_DENSE_PARITY_UTIL_H_

#include <ATen/core/Tensor.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/model.h"
#include "tests/parity/parity_util.h"
#include "tests/parity_dense/dense_fixture_model.h"

namespace d2x::parity {

// Builds `ModelT` from <fixtures>/<arch>/config.yaml (options read by `read_options(cfg)`, then
// `ModelT::Create(options)`) and loads its weights (LoadFixtureWeights). On any error: ADD_FAILURE
// with the status, then abort. The caller owns the returned model.
template <typename ModelT, typename ReadOptionsFn>
ModelT* BuildFixtureModelOrDie(const std::string& arch, ReadOptionsFn read_options) {
  absl::StatusOr<config::Config> cfg = FixtureConfig(arch);
  if (!cfg.ok()) {
    ADD_FAILURE() << cfg.status();
    std::abort();
  }
  auto options = read_options(*cfg);
  if (!options.ok()) {
    ADD_FAILURE() << options.status();
    std::abort();
  }
  absl::StatusOr<std::unique_ptr<ModelT>> m = ModelT::Create(*options);
  if (!m.ok()) {
    ADD_FAILURE() << m.status();
    std::abort();
  }
  absl::StatusOr<checkpoint::LoadReport> report = LoadFixtureWeights(arch, **m);
  if (!report.ok()) {
    ADD_FAILURE() << report.status();
    std::abort();
  }
  return m->release();
}

}  // namespace d2x::parity

#endif  // D2X_TESTS_PARITY_DENSE_DENSE_PARITY_UTIL_H_
