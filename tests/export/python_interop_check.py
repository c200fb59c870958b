"""Exported d2x TorchScript artifacts in Python (/usr/bin/python3, torch 1.13, no d2x, no detectron2).

For each architecture written by write_python_reference:
  * torch.ops.load_library(<artifact>/libd2x_ops.so) + torch.jit.load(model.ts) work;
  * the traced module returns exactly the C++ outputs for the same inputs (batch of 2 sizes);
  * the scripted module (List[Tensor] in, List[Dict[str, Tensor]] out) returns the same results;
  * an image read with PIL gives detections that agree with detectron2's fixtures
    (same class, box IoU > 0.99, |score delta| < 1e-3, mask IoU > 0.99, keypoints within 0.5 px,
    for >= 99% of detections; ../shared/fixtures/README.md);
  * the output schema stored in the archive is detectron2's InstancesSchema JSON.

Usage: python_interop_check.py OUT_DIR FIXTURES_DIR ARCH...
"""
import json
import os
import sys
import unittest

import numpy as np
import torch
from PIL import Image

OUT = None
FIXTURES = None
ARCHS = []
_LOADED = False


def load_ops_once(artifact):
    # One copy of the d2x ops per process (a second copy would register the namespace twice).
    global _LOADED
    if not _LOADED:
        torch.ops.load_library(os.path.join(artifact, "libd2x_ops.so"))
        _LOADED = True


def fixture_tensor(arch, name):
    with open(os.path.join(FIXTURES, arch, "manifest.json")) as f:
        manifest = json.load(f)
    for t in manifest["tensors"]:
        if t["name"] == name:
            data = np.fromfile(os.path.join(FIXTURES, arch, t["file"]), dtype=t["dtype"])
            return torch.from_numpy(data.reshape(t["shape"]))
    return None


def read_bgr(path):
    rgb = np.asarray(Image.open(path).convert("RGB"))
    return torch.from_numpy(rgb[:, :, ::-1].copy()).permute(2, 0, 1).float()


def box_iou(a, b):
    a, b = a.double(), b.double()
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def agreeing_fraction(expected, actual):
    """Greedy class-aware matching, highest expected score first (core/verify/detection_match)."""
    n, m = len(expected["scores"]), len(actual["scores"])
    if max(n, m) == 0:
        return 1.0
    iou = box_iou(expected["boxes"], actual["boxes"])
    used = set()
    agreeing = 0
    for i in sorted(range(n), key=lambda k: -float(expected["scores"][k])):
        best, best_iou = -1, 0.0
        for j in range(m):
            if j in used or int(actual["classes"][j]) != int(expected["classes"][i]):
                continue
            if iou[i, j] > best_iou:
                best, best_iou = j, float(iou[i, j])
        if best < 0:
            continue
        used.add(best)
        ok = best_iou > 0.99 and abs(float(expected["scores"][i]) - float(actual["scores"][best])) < 1e-3
        if "masks" in expected and "masks" in actual:
            a, b = expected["masks"][i].bool(), actual["masks"][best].bool()
            union = (a | b).sum().item()
            ok = ok and (union == 0 or (a & b).sum().item() / union > 0.99)
        if "keypoints" in expected and "keypoints" in actual:
            d = (expected["keypoints"][i, :, :2] - actual["keypoints"][best, :, :2]).double()
            ok = ok and d.pow(2).sum(1).sqrt().max().item() <= 0.5
        agreeing += int(ok)
    return agreeing / max(n, m)


class ArtifactTest(unittest.TestCase):
    def check_arch(self, arch):
        traced_dir = os.path.join(OUT, arch + "_tracing")
        scripted_dir = os.path.join(OUT, arch + "_scripting")
        load_ops_once(traced_dir)
        with open(os.path.join(traced_dir, "manifest.json")) as f:
            manifest = json.load(f)
        names = [o["name"] for o in manifest["outputs"]]
        self.assertEqual(names[-2:], ["image_size", "num_instances"])

        extra = {"d2x/output_schema.json": "", "d2x/output_names.json": ""}
        traced = torch.jit.load(os.path.join(traced_dir, "model.ts"), _extra_files=extra)
        schema = json.loads(extra["d2x/output_schema.json"])
        self.assertEqual(schema["_target_"], "detectron2.export.flatten.InstancesSchema")
        self.assertEqual(json.loads(extra["d2x/output_names.json"]), names)
        self.assertEqual(schema, manifest["output_schema"])

        # 1. The traced module reproduces the C++ outputs exactly.
        inputs = torch.load(os.path.join(OUT, arch + ".inputs.pt"))
        expected = torch.load(os.path.join(OUT, arch + ".expected.pt"))
        with torch.no_grad():
            outputs = traced(*inputs)
        self.assertEqual(len(outputs), len(expected))
        for name, got, want in zip(names, outputs, expected):
            self.assertEqual(got.dtype, want.dtype, name)
            self.assertTrue(torch.equal(got, want), "%s: %s differs from C++" % (arch, name))

        # 2. The scripted module: a list of differently sized images, one dict per image.
        scripted = torch.jit.load(os.path.join(scripted_dir, "model.ts"))
        images, sizes = inputs[0], inputs[1]
        image_list = [images[i, :, : sizes[i, 0], : sizes[i, 1]] for i in range(images.shape[0])]
        with torch.no_grad():
            results = scripted(image_list)
        self.assertEqual(len(results), len(image_list))
        counts = expected[names.index("num_instances")].tolist()
        start = 0
        for i, result in enumerate(results):
            end = start + counts[i]
            h, w = image_list[i].shape[1:]
            for name in names[:-2]:
                want = expected[names.index(name)][start:end]
                if name == "pred_masks":
                    want = want[:, :h, :w]
                self.assertTrue(torch.equal(result[name], want), "%s scripted %s image %d" % (arch, name, i))
            start = end

        # 3. From a PNG read in Python to detectron2's fixture outputs.
        for key in ("256x320", "200x296"):
            image = read_bgr(os.path.join(FIXTURES, arch, "input_%s.png" % key))
            self.assertTrue(torch.equal(image, image_list[0 if key == "256x320" else 1]))
            with torch.no_grad():
                (result,) = scripted([image])
            actual = {"boxes": result["pred_boxes"], "scores": result["scores"], "classes": result["pred_classes"]}
            want = {
                "boxes": fixture_tensor(arch, key + ".pred_boxes"),
                "scores": fixture_tensor(arch, key + ".scores"),
                "classes": fixture_tensor(arch, key + ".pred_classes"),
            }
            if "pred_masks" in result:
                actual["masks"] = result["pred_masks"]
                want["masks"] = fixture_tensor(arch, key + ".pred_masks")
            if "pred_keypoints" in result:
                actual["keypoints"] = result["pred_keypoints"]
                want["keypoints"] = fixture_tensor(arch, key + ".pred_keypoints")
            fraction = agreeing_fraction(want, actual)
            print("%s %s: %d detections, %.2f%% agree with detectron2" % (arch, key, len(actual["scores"]), 100 * fraction))
            self.assertGreaterEqual(fraction, 0.99)

    def test_architectures(self):
        for arch in ARCHS:
            with self.subTest(arch=arch):
                self.check_arch(arch)


if __name__ == "__main__":
    OUT, FIXTURES, ARCHS = sys.argv[1], sys.argv[2], sys.argv[3:]
    unittest.main(argv=sys.argv[:1], verbosity=2)
