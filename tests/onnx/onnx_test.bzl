"""The cc_test shape shared by the ONNX tests."""

def onnx_cc_test(name, srcs, deps, data = [], size = "medium"):
    """A cc_test that runs lowered models in ONNX Runtime through ort_run.js.

    Core is linked once (linkstatic, -rdynamic); ort_run.js is a data dependency; absl, gtest_main
    and torch are added to `deps`.

    Args:
      name: the test's name.
      srcs: its sources.
      deps: its own dependencies.
      data: runfiles besides ort_run.js.
      size: the test size.
    """
    native.cc_test(
        name = name,
        size = size,
        srcs = srcs,
        data = data + ["//plugins/format/onnx:ort_run.js"],
        linkopts = ["-rdynamic"],
        linkstatic = True,
        deps = deps + [
            "@system_libs//:absl",
            "@system_libs//:gtest_main",
            "@system_libs//:torch",
        ],
    )
