"""The three real data sets from the shared archives: layouts, counts, label conventions, boxes."""

from collections import Counter

import torch
from PIL import Image
from torchvision import tv_tensors

from drnlib.data import build_dataset, build_loader, default_transform, read_label_png

# --- CamVid (SegNet 11-class) --------------------------------------------------------------------------------


def test_camvid_splits_classes_and_sizes(camvid_root):
    counts = {split: len(build_dataset("camvid", split, root=camvid_root)) for split in ("train", "val", "test")}
    assert counts == {"train": 367, "val": 101, "test": 233}
    data = build_dataset("camvid", "val", root=camvid_root)
    assert data.num_classes == 11 and len(data.class_names) == 11 and data.ignore_index == 255
    assert data.task == "segment"
    image, mask = data[0]
    assert isinstance(image, tv_tensors.Image) and image.dtype == torch.uint8 and image.shape == (3, 360, 480)
    assert isinstance(mask, tv_tensors.Mask) and mask.dtype == torch.int64 and mask.shape == (360, 480)


def test_camvid_void_becomes_ignore(camvid_root):
    data = build_dataset("camvid", "train", root=camvid_root)
    seen = set()
    for index in range(0, len(data), 60):  # a handful of images across the split
        _, mask = data.load(index)
        raw = read_label_png(data.samples[index][1])
        assert torch.equal(mask == 255, raw == 11)  # void (11) -> 255 and nothing else does
        valid = raw != 11
        assert torch.equal(mask[valid], raw[valid].long())  # 0..10 kept as they are
        seen |= set(mask.unique().tolist())
    assert 255 in seen and seen <= set(range(11)) | {255}


def test_camvid_verify_slice_and_train_loader(camvid_root):
    data = build_dataset("camvid", "val", root=camvid_root, limit=4)
    assert len(data) == 4 and data.verify() == 4
    train = build_dataset("camvid", "train", root=camvid_root, limit=4, transform=default_transform("camvid", "train", crop_size=96))
    images, masks = next(iter(build_loader(train, batch_size=2, train=True, num_workers=0)))
    assert images.shape == (2, 3, 96, 96) and images.dtype == torch.float32
    assert masks.shape == (2, 96, 96) and masks.dtype == torch.int64
    assert set(masks.unique().tolist()) <= set(range(11)) | {255}


# --- Tiny ImageNet (100 classes) -----------------------------------------------------------------------------


def test_tiny_imagenet_train_classes_and_boxes(tiny_imagenet_root):
    data = build_dataset("tiny_imagenet", "train", "localize", root=tiny_imagenet_root)
    assert data.num_classes == 100 and len(data.class_names) == 100
    assert data.wnids == sorted(data.wnids) and data.class_names[0] == "goldfish"  # n01443537
    assert len(data) == 30000 and set(Counter(data.labels).values()) == {300}
    # every box is inside the 64x64 images (inclusive pixel indices)
    boxes = torch.tensor([s[2][0] for s in data.samples])
    assert boxes.shape == (30000, 4)
    assert (boxes >= 0).all() and (boxes <= 63).all()
    assert (boxes[:, 2] >= boxes[:, 0]).all() and (boxes[:, 3] >= boxes[:, 1]).all()
    # the first training image of the first class, against its line in n01443537_boxes.txt: "0 10 63 58"
    image, target = data[0]
    assert data.samples[0][0].name == "n01443537_0.JPEG"
    assert image.shape == (3, 64, 64) and image.dtype == torch.uint8
    assert target["label"] == 0
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes)
    assert target["boxes"].tolist() == [[0.0, 10.0, 64.0, 59.0]] and tuple(target["boxes"].canvas_size) == (64, 64)


def test_tiny_imagenet_val_annotations(tiny_imagenet_root):
    data = build_dataset("tiny_imagenet", "val", "localize", root=tiny_imagenet_root)
    assert len(data) == 5000 and set(Counter(data.labels).values()) == {50}
    lines = (tiny_imagenet_root / "val" / "val_annotations.txt").read_text().splitlines()
    by_file = {line.split()[0]: line.split()[1:] for line in lines}
    for path, label, boxes in data.samples[::500]:
        wnid, *box = by_file[path.name]
        assert data.wnids[label] == wnid and boxes == [[float(v) for v in box]]
    _, target = data[0]
    x0, y0, x1, y1 = (float(v) for v in by_file[data.samples[0][0].name][1:])
    assert target["boxes"].tolist() == [[x0, y0, x1 + 1, y1 + 1]]


def test_tiny_imagenet_grayscale_jpegs_decode_to_rgb(tiny_imagenet_root):
    data = build_dataset("tiny_imagenet", "train", root=tiny_imagenet_root)
    for index in range(0, len(data), 7):
        with Image.open(data.samples[index][0]) as original:
            grayscale = original.mode == "L"
        if grayscale:
            image, label = data[index]
            assert image.shape == (3, 64, 64) and isinstance(label, int)
            break
    else:
        raise AssertionError("expected some grayscale JPEGs in Tiny ImageNet")


def test_tiny_imagenet_slices_and_transforms(tiny_imagenet_root):
    data = build_dataset("tiny_imagenet", "train", root=tiny_imagenet_root, limit=200)
    assert Counter(data.labels) == Counter({k: 2 for k in range(100)})  # round-robin over classes
    few = build_dataset("tiny_imagenet", "val", root=tiny_imagenet_root, per_class=1)
    assert len(few) == 100 and sorted(few.labels) == list(range(100))
    train = build_dataset("tiny_imagenet", "train", "localize", root=tiny_imagenet_root, limit=8, transform="default")
    image, target = train[0]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32
    box = target["boxes"]
    assert (box[:, 0::2] >= 0).all() and (box[:, 0::2] <= 64).all() and (box[:, 2] >= box[:, 0]).all()


# --- CIFAR-10 (JPEG tree) ------------------------------------------------------------------------------------


def test_cifar10_jpeg_tree(cifar10_root):
    train = build_dataset("cifar10", "train", root=cifar10_root)
    test = build_dataset("cifar10", "test", root=cifar10_root)
    assert len(train) == 50000 and len(test) == 10000
    assert train.class_names == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert set(Counter(train.labels).values()) == {5000} and set(Counter(test.labels).values()) == {1000}
    image, label = test[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8 and label == 0
    assert len(build_dataset("cifar10", "val", root=cifar10_root)) == 10000  # val = the test set
    small = build_dataset("cifar10", "train", root=cifar10_root, per_class=3, transform="default")
    assert len(small) == 30
    image, label = small[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
