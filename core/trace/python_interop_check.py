"""Python side of //core/trace:python_interop_test (run with /usr/bin/python3).

Checks, on the files written by write_test_module:
  * traced.pt loads in Python's torch, its forward takes `image`, and at the trace size and at
    another size/batch it returns exactly the C++ eager outputs (data.pt);
  * nms.pt fails to load without d2x's ops ("Unknown builtin op: d2x::nms") and, after
    torch.ops.load_library(libd2x_ops.so), runs at another box count with the eager result;
  * the IR dumps d2x wrote (ir_traced/, ir_scripted/) equal, byte for byte, what detectron2's
    dump_torchscript_IR writes for the same modules (its recipe, SPEC.md A.2, restated below),
    except for the object addresses that model_ts_IR.txt prints for submodules.
"""
import os
import re
import sys

import torch


def fail(message):
    print("python_interop_check: FAILED: " + message)
    sys.exit(1)


def detectron2_dump(model):
    """The 4 texts of detectron2.export.torchscript.dump_torchscript_IR for a loaded module."""
    code = []

    def dump_code(prefix, mod):
        name = prefix or "root model"
        code.append("\nCode for {}, type={}:\n".format(name, mod.original_name))
        code.append(mod._c.code)
        code.append("\n")
        code.append("-" * 80)
        for child_name, child in mod.named_children():
            dump_code(prefix + "." + child_name, child)

    dump_code("", model)
    return {
        "model_ts_code.txt": "".join(code),
        "model_ts_IR.txt": model._c.dump_to_str(True, False, False),
        "model_ts_IR_inlined.txt": str(model.inlined_graph),
        "model.txt": str(model),
    }


def without_addresses(text):
    """dump_to_str prints submodules as "<__torch__.Child object at 0x55ced766dfa0>": the address
    differs from process to process (in Python too)."""
    return re.sub(r" object at 0x[0-9a-f]+>", " object at 0x...>", text)


def check_dump(model, directory):
    for name, expected in detectron2_dump(model).items():
        with open(os.path.join(directory, name)) as f:
            actual = f.read()
        if name == "model_ts_IR.txt":
            actual, expected = without_addresses(actual), without_addresses(expected)
        if actual != expected:
            fail("{}/{} differs from Python's:\n--- d2x ---\n{}\n--- python ---\n{}".format(
                directory, name, actual, expected))
    print("IR dump {} equals detectron2's".format(directory))


def main():
    out, ops_library = sys.argv[1], sys.argv[2]
    data = torch.load(os.path.join(out, "data.pt"))

    traced = torch.jit.load(os.path.join(out, "traced.pt"))
    names = [a.name for a in traced.forward.schema.arguments]
    if names != ["self", "image"]:
        fail("forward arguments are {}".format(names))
    for x, y in (("x1", "y1"), ("x2", "y2")):
        with torch.no_grad():
            outputs = traced(data[x])
            by_name = traced(image=data[x])
        if not isinstance(outputs, tuple) or len(outputs) != 3:
            fail("traced.pt returns {}".format(type(outputs)))
        for i, (a, b) in enumerate(zip(outputs, by_name)):
            expected = data["{}_{}".format(y, i)]
            if a.shape != expected.shape or not torch.equal(a, expected) or not torch.equal(a, b):
                diff = (a.double() - expected.double()).abs().max() if a.shape == expected.shape else "shape"
                fail("traced.pt output {} on {} {} differs from C++ eager: {}".format(
                    i, x, tuple(data[x].shape), diff))
        print("traced.pt on {} {}: equal to C++ eager".format(x, tuple(data[x].shape)))

    try:
        torch.jit.load(os.path.join(out, "nms.pt"))
        fail("nms.pt loaded without d2x's ops")
    except RuntimeError as e:
        if "Unknown builtin op: d2x::nms" not in str(e):
            fail("unexpected error: {}".format(e))
    torch.ops.load_library(ops_library)
    nms = torch.jit.load(os.path.join(out, "nms.pt"))
    keep, kept_boxes = nms(data["nms_boxes"], data["nms_scores"])
    if not torch.equal(keep, data["nms_keep"]) or not torch.equal(kept_boxes, data["nms_kept_boxes"]):
        fail("nms.pt differs from C++ eager")
    print("nms.pt with {}: {} of {} boxes kept, equal to C++ eager".format(
        os.path.basename(ops_library), keep.numel(), data["nms_boxes"].shape[0]))

    check_dump(traced, os.path.join(out, "ir_traced"))
    scripted = torch.jit.load(os.path.join(out, "scripted.pt"))
    check_dump(scripted, os.path.join(out, "ir_scripted"))
    x = torch.rand(3)
    if not torch.equal(scripted(x), torch.relu((x + 1) * 2 - 3)):
        fail("scripted.pt computes the wrong thing")
    print("OK")


if __name__ == "__main__":
    main()
