"""Weakly-supervised localization (DRN Sec. 5.2) on hand-made dense maps: the boxes the definition demands."""

import math

import pytest
import torch

from drnlib.eval import (LocalizationMeter, best_threshold, box_iou, boxes_correct, class_boxes, evaluate,
                         pad_boxes, sweep_threshold)


def maps(*planes):
    """N=1 dense probability maps from C hand-written h x w planes."""
    return torch.tensor([planes], dtype=torch.float32)


def test_box_from_dominant_pixels_above_threshold_and_mapping_to_image():
    # 3 classes on a 4 x 4 map. Class 1 dominates the cells (1,1), (1,2), (2,1) with 0.6 and (3,3) with 0.4.
    c0 = [[.8, .8, .8, .8], [.8, .2, .2, .8], [.8, .2, .8, .8], [.8, .8, .8, .3]]
    c1 = [[.1, .1, .1, .1], [.1, .6, .6, .1], [.1, .6, .1, .1], [.1, .1, .1, .4]]
    c2 = [[.1, .1, .1, .1], [.1, .2, .2, .1], [.1, .2, .1, .1], [.1, .1, .1, .3]]
    dense = maps(c0, c1, c2)
    size = torch.tensor([[40, 80]])  # image H=40, W=80: a cell is 10 px high and 20 px wide
    # t = 0.5: (3,3) has 0.4 <= t and is left out -> rows 1..2, cols 1..2
    box, found = class_boxes(dense, torch.tensor([1]), size, 0.5)
    assert found.tolist() == [True]
    assert box[0].tolist() == [20.0, 10.0, 60.0, 30.0]  # x0 = 1*80/4, y0 = 1*40/4, x1 = 3*80/4, y1 = 3*40/4
    # t = 0.35: (3,3) joins -> rows 1..3, cols 1..3
    box, _ = class_boxes(dense, torch.tensor([1]), size, 0.35)
    assert box[0].tolist() == [20.0, 10.0, 80.0, 40.0]
    # the threshold is strict: t = 0.6 keeps no cell -> no box
    _, found = class_boxes(dense, torch.tensor([1]), size, 0.6)
    assert found.tolist() == [False]
    # a class that dominates nowhere has no box, whatever t
    _, found = class_boxes(dense, torch.tensor([2]), size, 0.0)
    assert found.tolist() == [False]
    # several thresholds at once: T x N
    boxes, found = class_boxes(dense, torch.tensor([1]), size, [0.0, 0.5, 0.9])
    assert boxes.shape == (3, 1, 4) and found.tolist() == [[True], [True], [False]]


def test_ties_go_to_the_lowest_class_index():
    # class 0 and class 1 tie at every cell of the top row; class 1 alone wins the bottom row
    c0 = [[.5, .5], [.1, .1]]
    c1 = [[.5, .5], [.9, .9]]
    dense = maps(c0, c1)
    size = torch.tensor([[2, 2]])
    box0, found0 = class_boxes(dense, torch.tensor([0]), size, 0.0)
    box1, found1 = class_boxes(dense, torch.tensor([1]), size, 0.0)
    assert found0.item() and box0[0].tolist() == [0.0, 0.0, 2.0, 1.0]  # the tied top row goes to class 0
    assert found1.item() and box1[0].tolist() == [0.0, 1.0, 2.0, 2.0]  # class 1 keeps only the bottom row


def test_box_iou_and_correctness():
    a = torch.tensor([0.0, 0.0, 10.0, 10.0])
    assert box_iou(a, torch.tensor([0.0, 0.0, 10.0, 10.0])).item() == 1.0
    assert box_iou(a, torch.tensor([5.0, 0.0, 15.0, 10.0])).item() == pytest.approx(50 / 150)
    assert box_iou(a, torch.tensor([20.0, 20.0, 30.0, 30.0])).item() == 0.0
    gt = pad_boxes([torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 40.0, 40.0]]), torch.tensor([[0, 0, 4, 4]])])
    assert gt.shape == (2, 2, 4) and math.isnan(gt[1, 1, 0].item())
    pred = torch.tensor([[21.0, 21.0, 40.0, 40.0],  # matches the second box of image 0 (IoU 0.9025)
                         [0.0, 0.0, 4.0, 8.0]])    # IoU exactly 0.5 with image 1's box: not > 0.5
    found = torch.tensor([True, True])
    assert boxes_correct(pred, found, gt).tolist() == [True, False]
    assert boxes_correct(pred, torch.tensor([False, True]), gt).tolist() == [False, False]  # no box: wrong


def test_meter_top1_top5_rules():
    # Two images, 6 classes, 1 x 2 maps on 2 x 4 images; the true class (2) dominates the right cell only.
    dense = torch.full((2, 6, 1, 2), 0.1)
    dense[:, 2, 0, 1] = 0.5
    dense[:, 0, 0, 0] = 0.5
    gt = pad_boxes([torch.tensor([[2.0, 0.0, 4.0, 2.0]])] * 2)  # right half: the true-class box is exactly right
    sizes = torch.tensor([[2, 4], [2, 4]])
    labels = torch.tensor([2, 2])
    scores = torch.tensor([[0, 0, 9, 1, 1, 1],     # image 0: class 2 first -> top-1 and top-5 right
                           [9, 8, 7, 1, 0, 0.]])   # image 1: class 2 third -> only top-5 right
    meter = LocalizationMeter([0.2, 0.6])
    meter.update(scores, dense, labels, gt, sizes)
    low, high = meter.compute()
    assert low["loc_top1_error"] == 50.0 and low["loc_top5_error"] == 0.0 and low["box_error"] == 0.0
    assert high["loc_top1_error"] == 100.0 and high["loc_top5_error"] == 100.0  # 0.5 > 0.6 fails: empty mask
    assert best_threshold([high, low])["threshold"] == 0.2
    single = LocalizationMeter(0.2)  # per image: image 1's box is right although its top-1 class is wrong
    single.update(scores, dense, labels, gt, sizes)
    assert single.per_image() == {"loc_top1_wrong": [0, 1], "loc_top5_wrong": [0, 0], "box_wrong": [0, 0]}


class DenseModel(torch.nn.Module):
    """task='dense' stand-in: class c's map is input channel c (3 classes)."""

    def forward(self, x):
        return x * 10


def test_evaluate_localize_and_sweep():
    whole = torch.zeros(2, 3, 4, 4)
    whole[:, 1, 1:3, 1:3] = 1.0  # class 1 dominates the centre 2 x 2 cells
    crops = whole.clone()  # the class is predicted from the same view (spatial mean of the dense logits)
    target = {"label": torch.tensor([1, 0]), "boxes": pad_boxes([torch.tensor([[10.0, 10.0, 30.0, 30.0]])] * 2),
              "size": torch.tensor([[40, 40], [40, 40]])}
    out = evaluate(DenseModel(), [(crops, whole, target)], "localize", thresholds=0.5)
    # image 0: class 1 predicted? the spatial mean of class 1 is 10*4/16 = 2.5 > 0 -> yes; box = cells 1..2 -> right
    # image 1: true class 0 is not top-1; it dominates only the border cells (a 3-way tie at 1/3, lowest index
    # wins), which do not pass t = 0.5 -> no box -> wrong in top-5 too
    assert out["top1_error"] == 50.0
    assert out["loc_top1_error"] == 50.0 and out["loc_top5_error"] == 50.0
    sweep = sweep_threshold(DenseModel(), [(crops, whole, target)], thresholds=[0.3, 0.99])
    assert sweep["threshold"] == 0.3 and len(sweep["sweep"]) == 2
