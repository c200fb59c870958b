"""Python loads libd2x_ops.so and gets torchvision's exact results from torch.ops.d2x.*.

Usage: python_load_test.py path/to/libd2x_ops.so  (Bazel passes it; runs with /usr/bin/python3).
"""
import os
import sys
import unittest

import torch
import torchvision
from torchvision.ops import boxes as box_ops

LIBRARY = None


def random_detections(n, seed, ties):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 200
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 60 + 1
    boxes = torch.cat([xy, xy + wh], 1).float()
    if ties:
        scores = (torch.randint(0, 5, (n,), generator=g) / 4).float()
    else:
        scores = torch.rand(n, generator=g)
    idxs = torch.randint(0, 5, (n,), generator=g)
    return boxes, scores, idxs


class LoadLibraryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.ops.load_library(LIBRARY)

    def test_ops_are_registered(self):
        for name in ("roi_align", "nms", "batched_nms"):
            self.assertTrue(hasattr(torch.ops.d2x, name), name)

    def test_nms_matches_torchvision(self):
        for n in (0, 1, 50, 1000, 3000):
            for ties in (False, True):
                boxes, scores, _ = random_detections(n, seed=n + ties, ties=ties)
                for iou in (0.3, 0.5, 0.7):
                    ours = torch.ops.d2x.nms(boxes, scores, iou)
                    theirs = torchvision.ops.nms(boxes, scores, iou)
                    self.assertEqual(ours.dtype, torch.int64)
                    self.assertTrue(torch.equal(ours, theirs), (n, ties, iou))

    def test_batched_nms_matches_torchvision_in_both_regimes(self):
        # torchvision switches to a per-class loop above 4000 coordinates (1000 boxes).
        for n in (0, 10, 1000, 1001, 5000):
            for ties in (False, True):
                boxes, scores, idxs = random_detections(n, seed=7 * n + ties, ties=ties)
                for iou in (0.3, 0.5, 0.7):
                    ours = torch.ops.d2x.batched_nms(boxes, scores, idxs, iou)
                    theirs = torchvision.ops.batched_nms(boxes, scores, idxs, iou)
                    self.assertTrue(torch.equal(ours, theirs), (n, ties, iou))

    def test_roi_align_matches_torchvision(self):
        g = torch.Generator().manual_seed(3)
        features = torch.randn(2, 16, 40, 50, generator=g)
        xy = torch.rand(100, 2, generator=g) * 220 - 10
        wh = torch.rand(100, 2, generator=g) * 80
        batch = torch.randint(0, 2, (100, 1), generator=g).float()
        rois = torch.cat([batch, xy, xy + wh], 1)
        channels_last = features.contiguous(memory_format=torch.channels_last)
        # Few ROIs (NCHW gather path), many ROIs and channels-last input (NHWC path).
        for x, r in ((features, rois[:3]), (features, rois), (channels_last, rois[:3])):
            for aligned in (True, False):
                for sampling_ratio in (0, 2):
                    for scale in (0.25, 0.125):
                        ours = torch.ops.d2x.roi_align(x, r, scale, 7, 7, sampling_ratio, aligned)
                        theirs = torchvision.ops.roi_align(x, r, (7, 7), scale, sampling_ratio,
                                                           aligned)
                        self.assertTrue(torch.equal(ours, theirs),
                                        (len(r), aligned, sampling_ratio, scale))

    def test_scripted_function_calls_d2x_op(self):
        @torch.jit.script
        def keep(boxes: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            return torch.ops.d2x.nms(boxes, scores, 0.5)

        boxes, scores, _ = random_detections(200, seed=11, ties=True)
        self.assertIn("d2x::nms", str(keep.graph))
        self.assertTrue(torch.equal(keep(boxes, scores), torchvision.ops.nms(boxes, scores, 0.5)))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python_load_test.py path/to/libd2x_ops.so")
    LIBRARY = os.path.abspath(sys.argv.pop(1))
    unittest.main()
