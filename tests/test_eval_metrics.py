"""Metrics against hand-computed small examples: confusion matrix, IoU, accuracies, top-k, crop averaging,
multi-scale segmentation."""

import math

import pytest
import torch

from drnlib.errors import DataError
from drnlib.eval import (ConfusionMeter, TopKMeter, average_crops, classify_probs, confusion_matrix, evaluate,
                         segment_probs, segmentation_scores, topk_correct)


def test_confusion_matrix_by_hand():
    target = torch.tensor([[0, 0, 1], [1, 2, 255]])
    pred = torch.tensor([[0, 1, 1], [2, 2, 0]])  # the last pixel is ignored whatever is predicted
    conf = confusion_matrix(pred, target, num_classes=3)
    # rows = truth, columns = prediction
    assert conf.tolist() == [[1, 1, 0],
                             [0, 1, 1],
                             [0, 0, 1]]


def test_scores_by_hand():
    conf = torch.tensor([[1, 1, 0],
                         [0, 1, 1],
                         [0, 0, 1]])
    s = segmentation_scores(conf)
    # IoU: class 0: 1/(2+1-1)=1/2; class 1: 1/(2+2-1)=1/3; class 2: 1/(1+2-1)=1/2
    assert s["iou"] == pytest.approx([50.0, 100 / 3, 50.0])
    assert s["miou"] == pytest.approx((50 + 100 / 3 + 50) / 3)
    assert s["pixel_acc"] == pytest.approx(100 * 3 / 5)
    # class accuracy: 1/2, 1/2, 1/1
    assert s["mean_acc"] == pytest.approx(100 * (0.5 + 0.5 + 1) / 3)
    assert s["pixels"] == 5


def test_absent_class_is_nan_and_left_out_of_the_mean_but_false_positives_count():
    # class 2 never appears (labels nor predictions): NaN, not in the mean.
    # class 3 is predicted once but never labelled: IoU 0, counted; class accuracy NaN.
    target = torch.tensor([0, 0, 1, 1])
    pred = torch.tensor([0, 3, 1, 1])
    s = segmentation_scores(confusion_matrix(pred, target, 4))
    assert math.isnan(s["iou"][2])
    assert s["iou"][3] == 0.0
    assert s["iou"][0] == pytest.approx(50.0) and s["iou"][1] == pytest.approx(100.0)
    assert s["miou"] == pytest.approx((50 + 100 + 0) / 3)
    assert s["mean_acc"] == pytest.approx(100 * (0.5 + 1.0) / 2)


def test_confusion_errors():
    with pytest.raises(DataError, match="out of range"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 7]), 3)
    with pytest.raises(DataError, match="does not match"):
        confusion_matrix(torch.zeros(2, 3), torch.zeros(3, 2), 3)


def test_confusion_meter_accumulates():
    meter = ConfusionMeter(2)
    meter.update(torch.tensor([0, 1]), torch.tensor([0, 0]))
    meter.update(torch.tensor([1, 1]), torch.tensor([1, 255]))
    assert meter.matrix.tolist() == [[1, 1], [0, 1]]
    assert meter.compute()["pixel_acc"] == pytest.approx(200 / 3)


def test_topk_by_hand():
    scores = torch.tensor([[0.1, 0.5, 0.2, 0.15, 0.05, 0.0],   # true 1: top-1
                           [0.3, 0.1, 0.2, 0.25, 0.1, 0.05],   # true 2: rank 3
                           [0.3, 0.29, 0.2, 0.1, 0.08, 0.03]])  # true 5: rank 6 -> not in top-5
    target = torch.tensor([1, 2, 5])
    assert topk_correct(scores, target, (1, 5)).tolist() == [1, 2]
    meter = TopKMeter()
    meter.update(scores[:2], target[:2])
    meter.update(scores[2:], target[2:])
    out = meter.compute()
    assert out["top1_error"] == pytest.approx(100 * 2 / 3)
    assert out["top5_error"] == pytest.approx(100 / 3)
    # fewer classes than k: "top-5" of 3 classes is always right
    assert topk_correct(torch.rand(4, 3), torch.tensor([0, 1, 2, 0]), (1, 5))[1] == 4


def test_ten_crop_average_shapes_and_values():
    n, k, c = 2, 10, 4
    logits = torch.randn(n * k, c)
    probs = average_crops(logits, k)
    assert probs.shape == (n, c)
    assert torch.allclose(probs.sum(1), torch.ones(n))
    # image-major order: rows 0..9 belong to image 0
    assert torch.allclose(probs[1], logits[10:].softmax(1).mean(0))
    with pytest.raises(ValueError):
        average_crops(torch.randn(15, c), 10)

    class Linear(torch.nn.Module):
        def forward(self, x):  # N x 3 x H x W -> N x 4
            return x.mean(dim=(2, 3)).repeat(1, 2)[:, :4]
    crops = torch.randn(n, k, 3, 8, 8)
    out = classify_probs(Linear(), crops)
    assert out.shape == (n, c)
    assert torch.allclose(out[0], Linear()(crops[0]).softmax(1).mean(0))
    assert classify_probs(Linear(), crops[:, 0]).shape == (n, c)  # 1-crop: 4-d input


class PixelModel(torch.nn.Module):
    """A 'segmentation model' whose class-1 score is the red channel: predictions follow the input pixels."""

    def forward(self, x):
        return torch.cat([torch.zeros_like(x[:, :1]), x[:, :1]], dim=1)


def test_multiscale_and_flip_average_probabilities():
    images = torch.zeros(1, 3, 8, 12)
    images[:, 0, :, :6] = 5.0  # left half says class 1
    single = segment_probs(PixelModel(), images)
    assert single.shape == (1, 2, 8, 12)
    assert torch.allclose(single, PixelModel()(images).softmax(1))
    flipped = segment_probs(PixelModel(), images, flip=True)
    # mirrored back before averaging: same as single for a pixel-wise model
    assert torch.allclose(flipped, single, atol=1e-6)
    multi = segment_probs(PixelModel(), images, scales=(0.5, 1.0, 1.5), flip=True)
    assert multi.shape == (1, 2, 8, 12)
    # away from the edge at column 6 (blurred by the resizing) the prediction follows the pixels
    assert (multi.argmax(1)[0, :, :4] == 1).all() and (multi.argmax(1)[0, :, 9:] == 0).all()


def test_evaluate_segment_loop():
    images = torch.zeros(2, 3, 4, 4)
    images[0, 0, :2] = 3.0
    masks = torch.zeros(2, 4, 4, dtype=torch.long)
    masks[0, :2] = 1
    masks[1, 0, 0] = 255
    out = evaluate(PixelModel(), [(images, masks)], "segment", num_classes=2)
    assert out["iou"] == [100.0, 100.0] and out["pixels"] == 31 and out["pixel_acc"] == 100.0
    assert out["loss"] > 0
