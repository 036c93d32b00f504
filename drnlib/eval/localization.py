"""Weakly-supervised object localization from a classification network's dense class maps (DRN Sec. 3 and 5.2).

The protocol, exactly as the paper states it, with the choices the paper leaves open written down:

1. The class is predicted by the classifier (1-crop or 10-crop probabilities, see `predict.classify_probs`).
2. The same network without global pooling (model task "dense") gives C maps of h x w; a softmax over the classes
   at each cell turns them into probabilities f(c, i, j).
3. The dominant class of a cell is argmax_c f(c, i, j). Ties go to the lowest class index (torch.argmax returns the
   first maximum).
4. For class c the box is the minimal box covering every cell whose dominant class is c AND whose probability
   f(c, i, j) exceeds t (strictly). If no cell qualifies there is no box, which counts as a wrong localization.
5. Map cells to image pixels: the dense map is computed on the whole image resized to the network input, so cell
   (i, j) of an h x w map covers the original W x H image's pixels x in [j*W/w, (j+1)*W/w) and
   y in [i*H/h, (i+1)*H/h) (the output stride of the network divides the input into equal cells). The box of cells
   rows i0..i1, columns j0..j1 is therefore [j0*W/w, i0*H/h, (j1+1)*W/w, (i1+1)*H/h].
6. Boxes are [x0, y0, x1, y1] in pixel-edge coordinates: a box covering pixel columns 3, 4 and 5 is x0=3, x1=6.
   (ImageNet / Tiny ImageNet annotations list inclusive pixel indices; add 1 to x1 and y1 to convert.)
   A box is correct when its IoU with ANY ground-truth box of the image is > 0.5.
7. Top-1 localization is right when the top-1 class is the true class and its box is correct; top-5 when the true
   class is among the 5 best classes and its box is correct (the ILSVRC rule: any of 5 guesses with a right class
   and a right box). Only the true class's box can ever count, so that is the box that is evaluated.

The threshold t is not given in the paper. Choose it on held-out *training* images (`best_threshold` over a sweep
done with `LocalizationMeter(thresholds=[...])`), never on the evaluation split.
"""

from __future__ import annotations

import math

import torch

from drnlib.eval.metrics import _all_reduce

DEFAULT_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(0, 20))  # 0.0, 0.05, ..., 0.95


def cell_boxes(mask: torch.Tensor):
    """Minimal cell box of each boolean mask (... x h x w) -> (i0, j0, i1, j1) inclusive cell indices and `found`.

    Where a mask is empty `found` is False and the indices are meaningless.
    """
    rows = mask.any(dim=-1)  # ... x h
    cols = mask.any(dim=-2)  # ... x w
    h, w = rows.shape[-1], cols.shape[-1]
    # argmax returns the first maximum, so on 0/1 values it finds the first True.
    i0 = rows.to(torch.uint8).argmax(dim=-1)
    j0 = cols.to(torch.uint8).argmax(dim=-1)
    i1 = h - 1 - rows.flip(-1).to(torch.uint8).argmax(dim=-1)
    j1 = w - 1 - cols.flip(-1).to(torch.uint8).argmax(dim=-1)
    return (i0, j0, i1, j1), rows.any(dim=-1)


def cells_to_image_boxes(cells, map_size, image_sizes: torch.Tensor) -> torch.Tensor:
    """Cell boxes (i0, j0, i1, j1) on an h x w map -> [x0, y0, x1, y1] pixel-edge boxes on the original images.

    image_sizes: ... x 2 tensor of (H, W) per image, broadcastable against the cell indices.
    """
    i0, j0, i1, j1 = (c.double() for c in cells)
    h, w = map_size
    img_h = image_sizes[..., 0].double()
    img_w = image_sizes[..., 1].double()
    return torch.stack([j0 * img_w / w, i0 * img_h / h, (j1 + 1) * img_w / w, (i1 + 1) * img_h / h], dim=-1)


def class_boxes(dense: torch.Tensor, classes: torch.Tensor, image_sizes: torch.Tensor, thresholds):
    """Boxes of `classes` from dense probability maps, for one or several thresholds.

    dense: N x C x h x w per-pixel softmax probabilities; classes: N class indices (the class whose box is wanted);
    image_sizes: N x 2 (H, W) of the original images; thresholds: a float or a sequence of T floats.
    Returns boxes (T x N x 4, float64, pixel-edge image coordinates) and found (T x N bool); T is dropped when
    `thresholds` is a single float.
    """
    single = isinstance(thresholds, (int, float))
    t = torch.as_tensor([thresholds] if single else list(thresholds), dtype=dense.dtype, device=dense.device)
    n = dense.shape[0]
    dominant = dense.argmax(dim=1)  # N x h x w; ties -> lowest class index
    classes = classes.to(dense.device).long()
    prob = dense[torch.arange(n, device=dense.device), classes]  # N x h x w: probability of the wanted class
    mask = (dominant == classes.view(n, 1, 1)) & (prob > t.view(-1, 1, 1, 1))  # T x N x h x w
    cells, found = cell_boxes(mask)
    boxes = cells_to_image_boxes(cells, dense.shape[-2:], image_sizes.to(dense.device))
    if single:
        return boxes[0], found[0]
    return boxes, found


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of boxes a (... x 4) and b (... x 4), broadcast; pixel-edge [x0, y0, x1, y1] (area = (x1-x0)*(y1-y0))."""
    a, b = a.double(), b.double()
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter)


def pad_boxes(boxes_per_image) -> torch.Tensor:
    """A list of M_i x 4 ground-truth box tensors -> N x max(M_i) x 4, padded with NaN rows (which never match)."""
    m = max((len(b) for b in boxes_per_image), default=0)
    out = torch.full((len(boxes_per_image), max(m, 1), 4), math.nan, dtype=torch.float64)
    for i, b in enumerate(boxes_per_image):
        if len(b):
            out[i, : len(b)] = torch.as_tensor(b, dtype=torch.float64).view(-1, 4)
    return out


def boxes_correct(pred_boxes: torch.Tensor, found: torch.Tensor, gt_boxes: torch.Tensor) -> torch.Tensor:
    """True where a box was found and its IoU with any ground-truth box is > 0.5.

    pred_boxes: ... x N x 4, found: ... x N, gt_boxes: N x M x 4 (NaN-padded, see `pad_boxes`).
    """
    iou = box_iou(pred_boxes.unsqueeze(-2), gt_boxes.to(pred_boxes.device))  # ... x N x M; NaN > 0.5 is False
    return found & (iou > 0.5).any(dim=-1)


class LocalizationMeter:
    """Counts top-1 / top-5 localization hits for one or several thresholds at once.

    update(class_scores N x C, dense N x C x h x w probabilities, labels N, gt_boxes N x M x 4, image_sizes N x 2).
    compute() -> one dict per threshold: loc_top1_error, loc_top5_error (percent), box_error (percent of images whose
    true-class box is wrong, whatever the classification), threshold.
    """

    def __init__(self, thresholds=DEFAULT_THRESHOLDS, device=None):
        self.thresholds = [float(t) for t in (thresholds if not isinstance(thresholds, (int, float)) else [thresholds])]
        t = len(self.thresholds)
        self.top1 = torch.zeros(t, dtype=torch.int64, device=device)
        self.top5 = torch.zeros(t, dtype=torch.int64, device=device)
        self.box = torch.zeros(t, dtype=torch.int64, device=device)
        self.count = torch.zeros((), dtype=torch.int64, device=device)
        self.hits: list[torch.Tensor] = []  # one threshold: per image N x 3 (top-1, top-5 localization, box correct)

    def update(self, class_scores, dense, labels, gt_boxes, image_sizes) -> None:
        device = dense.device
        if self.top1.device != device:
            self.top1, self.top5 = self.top1.to(device), self.top5.to(device)
            self.box, self.count = self.box.to(device), self.count.to(device)
        labels = labels.to(device).long()
        k = min(5, class_scores.shape[1])
        top = class_scores.to(device).topk(k, dim=1).indices
        right1 = top[:, 0] == labels
        right5 = (top == labels.view(-1, 1)).any(dim=1)
        boxes, found = class_boxes(dense, labels, image_sizes, self.thresholds)  # T x N x 4, T x N
        ok = boxes_correct(boxes, found, gt_boxes)  # T x N
        self.box += ok.sum(dim=1)
        self.top1 += (ok & right1).sum(dim=1)
        self.top5 += (ok & right5).sum(dim=1)
        self.count += labels.numel()
        if len(self.thresholds) == 1:
            self.hits.append(torch.stack([(ok & right1)[0], (ok & right5)[0], ok[0]], dim=1))

    def per_image(self) -> dict:
        """{"loc_top1_wrong": [...], "loc_top5_wrong": [...], "box_wrong": [...]} per image, 0 or 1 (one threshold
        only; {} for a sweep); box_wrong: the true class's box misses, whatever the prediction (`box_error`)."""
        from drnlib.eval.metrics import gather_per_image

        hits = gather_per_image(self.hits)
        if hits is None:
            return {}
        return {"loc_top1_wrong": (~hits[:, 0]).int().tolist(), "loc_top5_wrong": (~hits[:, 1]).int().tolist(),
                "box_wrong": (~hits[:, 2]).int().tolist()}

    def all_reduce(self) -> None:
        for tensor in (self.top1, self.top5, self.box, self.count):
            _all_reduce(tensor)

    def compute(self) -> list[dict]:
        n = int(self.count)
        rows = []
        for t, c1, c5, cb in zip(self.thresholds, self.top1.tolist(), self.top5.tolist(), self.box.tolist()):
            err = (lambda c: 100.0 * (1 - c / n) if n else math.nan)
            rows.append({"threshold": t, "loc_top1_error": err(c1), "loc_top5_error": err(c5),
                         "box_error": err(cb), "images": n})
        return rows


def best_threshold(rows: list[dict], key: str = "loc_top1_error") -> dict:
    """The row of a threshold sweep with the lowest `key` (ties: the lowest threshold)."""
    finite = [r for r in rows if not math.isnan(r[key])]
    if not finite:
        raise ValueError("no localization results to choose a threshold from")
    return min(finite, key=lambda r: (r[key], r["threshold"]))
