"""Evaluation: top-k error, 1-crop / 10-crop, segmentation confusion matrix and IoU, weakly-supervised localization.

Everything works on tensors and models; nothing here knows about data sets on disk or checkpoints.

- metrics.py       TopKMeter, confusion_matrix, ConfusionMeter, segmentation_scores (percentages)
- predict.py       average_crops / classify_probs (10-crop: mean of softmax), segment_probs (multi-scale, flip),
                   AveragedModels (model averaging)
- localization.py  DRN Sec. 5.2 boxes from dense class maps, box_iou, LocalizationMeter, best_threshold
- evaluate.py      evaluate(model, loader, task, ...), sweep_threshold(...)
"""

from drnlib.eval.evaluate import TASKS, autocast, evaluate, sweep_threshold, to_device
from drnlib.eval.localization import (DEFAULT_THRESHOLDS, LocalizationMeter, best_threshold, box_iou,
                                      boxes_correct, cell_boxes, cells_to_image_boxes, class_boxes, pad_boxes)
from drnlib.eval.metrics import (IGNORE_INDEX, ConfusionMeter, TopKMeter, confusion_matrix, segmentation_scores,
                                 topk_correct)
from drnlib.eval.predict import AveragedModels, average_crops, classify_probs, segment_probs

__all__ = [
    "TASKS", "autocast", "evaluate", "sweep_threshold", "to_device",
    "DEFAULT_THRESHOLDS", "LocalizationMeter", "best_threshold", "box_iou", "boxes_correct", "cell_boxes",
    "cells_to_image_boxes", "class_boxes", "pad_boxes",
    "IGNORE_INDEX", "ConfusionMeter", "TopKMeter", "confusion_matrix", "segmentation_scores", "topk_correct",
    "AveragedModels", "average_crops", "classify_probs", "segment_probs",
]
