"""Joint transforms keep image, mask and boxes aligned; padding and rotation fill labels with 255."""

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from drnlib.data import build_dataset, collate, default_transform, list_datasets
from drnlib.data import transforms as T

RED = torch.tensor([255, 0, 0], dtype=torch.uint8)[:, None, None]


def scene(height=48, width=64, box=(10, 6, 30, 20), label=3):
    """Black image with a red rectangle; the mask has class `label` there and 0 elsewhere; the box matches."""
    x0, y0, x1, y1 = box
    image = torch.zeros(3, height, width, dtype=torch.uint8)
    image[:, y0:y1, x0:x1] = RED
    mask = torch.zeros(height, width, dtype=torch.int64)
    mask[y0:y1, x0:x1] = label
    boxes = tv_tensors.BoundingBoxes([box], format="XYXY", canvas_size=(height, width), dtype=torch.float32)
    return tv_tensors.Image(image), {"label": label, "boxes": boxes, "mask": tv_tensors.Mask(mask)}


def denormalize(image, mean=T.IMAGENET_MEAN, std=T.IMAGENET_STD):
    return image * torch.tensor(std)[:, None, None] + torch.tensor(mean)[:, None, None]


def extent(mask):
    rows, cols = mask.any(dim=1).nonzero()[:, 0], mask.any(dim=0).nonzero()[:, 0]
    return [cols[0].item(), rows[0].item(), cols[-1].item() + 1, rows[-1].item() + 1]


def test_flip_moves_box_with_mask_and_pixels():
    image, target = scene()
    out_image, out = v2.RandomHorizontalFlip(p=1.0)(image, target)
    assert torch.equal(out["mask"], target["mask"].flip(-1))
    assert out["boxes"].tolist() == [[64 - 30, 6, 64 - 10, 20]] == [extent(out["mask"] == 3)]
    assert torch.equal(out_image, image.flip(-1))


def red_region(image, mean=T.IMAGENET_MEAN, std=T.IMAGENET_STD):
    return denormalize(image, mean, std)[0] > 0.5


@pytest.mark.parametrize("seed", range(4))
def test_classify_train_keeps_box_on_the_object(seed):
    torch.manual_seed(seed)
    image, target = scene()
    del target["mask"]
    out_image, out = T.classify_train(size=32, scale=(0.5, 1.0), color_jitter=0)(image, target)
    assert out_image.dtype == torch.float32 and out_image.shape == (3, 32, 32) and out["label"] == 3
    red = red_region(out_image)
    if red.any():
        box = out["boxes"][0].tolist()
        assert all(abs(a - b) <= 1.0 for a, b in zip(box, extent(red)))  # the box follows the pixels


def centres_inside(box, height, width):
    """(inside, clear): pixels whose centres lie inside a continuous XYXY box (what a mask aligned with the box
    holds), and the pixels whose centres are not on an edge of the box (where either answer is right)."""
    x0, y0, x1, y1 = box
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    inside = (xs > x0) & (xs < x1) & (ys > y0) & (ys < y1)
    on_edge = torch.stack([(xs - x0).abs(), (xs - x1).abs(), (ys - y0).abs(), (ys - y1).abs()]).amin(0) < 1e-3
    return inside, ~on_edge


@pytest.mark.parametrize("seed", range(4))
def test_segment_train_keeps_mask_box_and_pixels_aligned(seed):
    torch.manual_seed(seed)
    image, target = scene(96, 128, box=(19, 13, 83, 59))
    out_image, out = T.segment_train(crop_size=64, scale=(0.5, 1.5), rotate=0)(image, target)
    obj, red = out["mask"] == 3, red_region(out_image)
    assert set(out["mask"].unique().tolist()) <= {0, 3, 255}
    if obj.sum() > 50:
        assert (red & obj).sum() / (red | obj).sum() > 0.85  # pixels follow the mask
        box = out["boxes"][0].tolist()
        assert all(abs(a - b) <= 1.0 for a, b in zip(box, extent(obj)))  # the box follows the mask
        inside, clear = centres_inside(box, 64, 64)
        assert torch.equal(obj[clear], inside[clear])  # the mask is exactly the box's pixels


@pytest.mark.parametrize("size", [[48, 64], [37, 49], [30, 40], [61, 81], [150, 200]])
def test_mask_resize_is_pixel_centre_aligned(size):
    image, target = scene(96, 128, box=(19, 13, 83, 59))
    mask = T.resize(target["mask"], size)
    assert isinstance(mask, tv_tensors.Mask) and mask.dtype == torch.int64 and mask.shape == tuple(size)
    sy, sx = size[0] / 96, size[1] / 128
    inside, clear = centres_inside((19 * sx, 13 * sy, 83 * sx, 59 * sy), *size)
    assert torch.equal((mask == 3)[clear], inside[clear])


def test_segment_train_pads_labels_with_255_and_images_with_mean():
    image, target = scene(20, 30)
    torch.manual_seed(0)
    out_image, out_mask = T.segment_train(crop_size=40, scale=None, flip=False)(image, target["mask"])
    assert out_image.shape == (3, 40, 40) and out_mask.shape == (40, 40)
    assert isinstance(out_mask, tv_tensors.Mask) and out_mask.dtype == torch.int64
    padded = out_mask == 255
    assert padded.sum() == 40 * 40 - 20 * 30
    assert out_image[:, padded].abs().max() < 0.03  # the mean colour normalises to ~0
    assert (out_mask[~padded] == 3).sum() == (target["mask"] == 3).sum()  # nothing lost, nothing invented


def test_segment_train_rotation_and_scale_keep_label_values():
    image, target = scene()
    torch.manual_seed(1)
    recipe = T.segment_train(crop_size=(48, 64), scale=(0.5, 1.5), rotate=30)
    for _ in range(4):
        out_image, out_mask = recipe(image, target["mask"])
        assert out_image.shape == (3, 48, 64) and out_mask.shape == (48, 64)
        assert set(out_mask.unique().tolist()) <= {0, 3, 255}  # nearest: no blended ids; fill = 255
    rotate = v2.RandomRotation((30, 30), fill={tv_tensors.Image: 0, tv_tensors.Mask: 255})
    _, mask = rotate(image, target["mask"])
    assert mask[0, 0] == 255 and mask[-1, -1] == 255  # rotated-in corners are ignore


def test_random_scale_resizes_image_mask_and_boxes_together():
    image, target = scene()
    torch.manual_seed(0)
    out_image, out = T.RandomScale(2.0, 2.0)(image, target)
    assert out_image.shape == (3, 96, 128) and out["mask"].shape == (96, 128)
    assert out["boxes"].tolist() == [[20, 12, 60, 40]] == [extent(out["mask"] == 3)]


def test_classify_eval_centre_and_ten_crop():
    image = tv_tensors.Image(torch.randint(0, 256, (3, 60, 80), dtype=torch.uint8))
    centre, label = T.classify_eval(size=48, resize=60)(image, 7)
    assert centre.shape == (3, 48, 48) and centre.dtype == torch.float32 and label == 7
    expected = (image[:, 6:54, 16:64].float() / 255 - torch.tensor(T.IMAGENET_MEAN)[:, None, None]) / torch.tensor(T.IMAGENET_STD)[:, None, None]
    assert torch.allclose(centre, expected, atol=1e-5)
    crops, label = T.classify_eval(size=48, resize=60, ten_crop=True)(image, 7)
    assert crops.shape == (10, 3, 48, 48) and label == 7
    assert torch.allclose(crops[4], centre, atol=1e-5)  # TenCrop order: 4 corners, centre, then flips
    assert torch.allclose(crops[9], centre.flip(-1), atol=1e-5)


def test_default_transforms_of_every_data_set():
    image, target = scene(72, 96)
    for name in list_datasets():
        for split in ("train", "val"):
            task = "segment" if name in ("camvid", "cityscapes", "voc_aug", "ade20k", "pascal_context") else "classify"
            overrides = {"crop_size": 32} if task == "segment" and split == "train" else {}
            recipe = default_transform(name, split, task, **overrides)
            out_image, out = recipe(image, target["mask"] if task == "segment" else 3)
            assert out_image.dtype == torch.float32 and out_image.ndim == 3
            if task == "segment":
                assert out.dtype == torch.int64 and out.shape == out_image.shape[-2:]


def test_collate_handles_every_target_kind():
    images = [torch.zeros(3, 8, 8)] * 2
    boxes = [tv_tensors.BoundingBoxes(torch.zeros(n, 4), format="XYXY", canvas_size=(8, 8)) for n in (1, 3)]
    x, y = collate([(images[0], {"label": 1, "boxes": boxes[0]}), (images[1], {"label": 2, "boxes": boxes[1]})])
    assert x.shape == (2, 3, 8, 8) and y["label"].tolist() == [1, 2] and [b.shape[0] for b in y["boxes"]] == [1, 3]
    x, y = collate([(images[0], 4), (images[1], 5)])
    assert y.dtype == torch.int64 and y.tolist() == [4, 5]
    masks = [tv_tensors.Mask(torch.full((8, 8), k)) for k in (0, 255)]
    x, y = collate(list(zip(images, masks)))
    assert y.shape == (2, 8, 8) and type(y) is torch.Tensor


def test_default_transform_through_build_dataset(synthetic_small):
    data = build_dataset("synthetic", "train", "segment", transform="default", num_samples=4, image_size=32)
    image, mask = data[0]
    assert image.dtype == torch.float32 and image.shape == (3, 32, 32) and mask.shape == (32, 32)
