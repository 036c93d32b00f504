"""Loaders of the data sets we cannot have here, on tiny trees written in each data set's own layout and file
formats (JPEG, PNG, palette PNG, MAT, python pickles); plus reading SBD's MAT labels."""

import pickle

import numpy as np
import pytest
import torch
from scipy.sparse import csc_matrix

from drnlib.data import build_dataset, read_label_mat
from drnlib.errors import DataError


def pattern(seed: int, height: int = 24, width: int = 32) -> torch.Tensor:
    """A smooth uint8 RGB image (JPEG-friendly) that differs per seed."""
    y = torch.linspace(0, 1, height)[:, None]
    x = torch.linspace(0, 1, width)[None, :]
    channels = [(x * (seed + 1) + y * c) % 1 for c in (1, 2, 3)]
    return (torch.stack(channels) * 255).to(torch.uint8)


# --- ImageNet ------------------------------------------------------------------------------------------------

WNIDS = ["n01440764", "n01443537", "n01484850"]


def xml_annotation(stem, width, height, objects):
    boxes = "".join(
        f"<object><name>{w}</name><pose>Unspecified</pose><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for w, b in objects
    )
    return (
        f"<annotation><folder>val</folder><filename>{stem}</filename><size><width>{width}</width>"
        f"<height>{height}</height><depth>3</depth></size>{boxes}</annotation>"
    )


# val image k: (label, boxes); image 2 has a box touching the right border (xmax = width) and two objects.
VAL = {
    1: (1, [(1, 2, 20, 25)]),
    2: (0, [(3, 4, 40, 20), (0, 0, 9, 9)]),
    3: (2, [(10, 5, 30, 29)]),
}


@pytest.fixture
def imagenet_root(tmp_path, writers):
    root = tmp_path / "imagenet"
    for k, wnid in enumerate(WNIDS):
        for j in range(2):
            writers.write_jpeg(root / "train" / wnid / f"{wnid}_{j}.JPEG", pattern(10 * k + j, 36, 48))
    (root / "LOC_synset_mapping.txt").write_text(
        "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\nn01484850 great white shark, white shark\n"
    )
    csv = ["ImageId,PredictionString"]
    for k, (label, boxes) in VAL.items():
        stem = f"ILSVRC2012_val_{k:08d}"
        writers.write_jpeg(root / "val" / f"{stem}.JPEG", pattern(k, 30, 40))
        objects = [(WNIDS[label], b) for b in boxes]
        (root / "Annotations" / "CLS-LOC" / "val").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / "CLS-LOC" / "val" / f"{stem}.xml").write_text(xml_annotation(stem, 40, 30, objects))
        csv.append(f"{stem}," + " ".join(f"{w} {b[0]} {b[1]} {b[2]} {b[3]}" for w, b in objects))
    (root / "LOC_val_solution.csv").write_text("\n".join(csv) + "\n")
    return root


def expected_boxes(boxes, width=40, height=30):
    return [[min(b[0], width), min(b[1], height), min(b[2] + 1, width), min(b[3] + 1, height)] for b in boxes]


def test_imagenet_train_image_folder(imagenet_root):
    data = build_dataset("imagenet", "train", root=imagenet_root)
    assert data.num_classes == 3 and data.class_names == ["tench", "goldfish", "great white shark"]
    assert data.labels == [0, 0, 1, 1, 2, 2]
    image, label = data[2]
    assert image.shape == (3, 36, 48) and image.dtype == torch.uint8 and label == 1


@pytest.mark.parametrize("source", ["xml", "csv"])
def test_imagenet_flat_val_with_boxes(imagenet_root, source):
    if source == "xml":
        (imagenet_root / "LOC_val_solution.csv").unlink()
    classify = build_dataset("imagenet", "val", root=imagenet_root)
    assert classify.labels == [VAL[k][0] for k in sorted(VAL)]
    localize = build_dataset("imagenet", "val", "localize", root=imagenet_root)
    for index, k in enumerate(sorted(VAL)):
        image, target = localize[index]
        assert target["label"] == VAL[k][0]
        assert target["boxes"].tolist() == expected_boxes(VAL[k][1])
        assert tuple(target["boxes"].canvas_size) == (30, 40)


def test_imagenet_val_class_folders_and_kaggle_layout(tmp_path, imagenet_root):
    # val sorted into class folders (valprep.sh), boxes from the CSV
    for k, (label, _) in VAL.items():
        src = imagenet_root / "val" / f"ILSVRC2012_val_{k:08d}.JPEG"
        (imagenet_root / "val" / WNIDS[label]).mkdir(exist_ok=True)
        src.rename(imagenet_root / "val" / WNIDS[label] / src.name)
    data = build_dataset("imagenet", "val", "localize", root=imagenet_root)
    assert sorted(t["label"] for _, t in (data[i] for i in range(len(data)))) == [0, 1, 2]
    # Kaggle: ILSVRC/Data/CLS-LOC/{train,val}, ILSVRC/Annotations/CLS-LOC/val, CSV files at the top
    kaggle = tmp_path / "kaggle"
    (kaggle / "ILSVRC" / "Data").mkdir(parents=True)
    (imagenet_root / "train").rename(kaggle / "ILSVRC" / "Data" / "train")
    (kaggle / "ILSVRC" / "Data" / "CLS-LOC").mkdir()
    (kaggle / "ILSVRC" / "Data" / "train").rename(kaggle / "ILSVRC" / "Data" / "CLS-LOC" / "train")
    (imagenet_root / "Annotations").rename(kaggle / "ILSVRC" / "Annotations")
    (imagenet_root / "LOC_synset_mapping.txt").rename(kaggle / "LOC_synset_mapping.txt")
    train = build_dataset("imagenet", "train", root=kaggle)
    assert len(train) == 6 and train.class_names[1] == "goldfish"


# --- Cityscapes ----------------------------------------------------------------------------------------------

# raw label id -> train id: 7 road -> 0, 8 sidewalk -> 1, 26 car -> 13, 33 bicycle -> 18; 0, 1, 5 (void) -> 255
CITYSCAPES_IDS = torch.tensor([[7, 8, 26, 33], [0, 1, 5, 24]], dtype=torch.uint8).repeat(4, 4)
CITYSCAPES_TRAIN = torch.tensor([[0, 1, 13, 18], [255, 255, 255, 11]]).repeat(4, 4)


@pytest.fixture
def cityscapes_root(tmp_path, writers):
    root = tmp_path / "cityscapes"
    for split, city, frames in (("train", "aachen", 2), ("val", "frankfurt", 1)):
        for f in range(frames):
            stem = f"{city}_000000_{f:06d}"
            writers.write_png(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", pattern(f, 8, 16))
            writers.write_png(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", CITYSCAPES_IDS)
            writers.write_png(root / "gtFine" / split / city / f"{stem}_gtFine_color.png", pattern(f, 8, 16))
    return root


def test_cityscapes_label_ids_to_train_ids(cityscapes_root):
    train = build_dataset("cityscapes", "train", root=cityscapes_root)
    assert len(train) == 2 and train.num_classes == 19 and train.class_names[13] == "car"
    image, mask = train[1]
    assert image.shape == (3, 8, 16) and torch.equal(mask, CITYSCAPES_TRAIN)
    assert len(build_dataset("cityscapes", "val", root=cityscapes_root)) == 1


# --- PASCAL VOC 2012 + SBD (train_aug) -----------------------------------------------------------------------

VOC_TRAIN, VOC_VAL = ["2007_000032", "2007_000039"], ["2007_000033"]
SBD_TRAIN, SBD_VAL = ["2008_000002", "2007_000033"], ["2008_000003", "2007_000039"]


def voc_ids(seed: int) -> torch.Tensor:
    ids = torch.zeros(12, 16, dtype=torch.uint8)
    ids[2:8, 3:10] = seed % 20 + 1
    ids[2, 3:10] = 255  # VOC's border pixels
    return ids


@pytest.fixture
def voc_root(tmp_path, writers):
    root = tmp_path / "voc"
    voc = root / "VOCdevkit" / "VOC2012"
    for n, image_id in enumerate(sorted(set(VOC_TRAIN + VOC_VAL + SBD_TRAIN + SBD_VAL))):
        writers.write_jpeg(voc / "JPEGImages" / f"{image_id}.jpg", pattern(n, 12, 16))
    for n, image_id in enumerate(VOC_TRAIN + VOC_VAL):
        writers.write_palette_png(voc / "SegmentationClass" / f"{image_id}.png", voc_ids(n))
    (voc / "ImageSets" / "Segmentation").mkdir(parents=True)
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(VOC_TRAIN) + "\n")
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(VOC_VAL) + "\n")
    sbd = root / "benchmark_RELEASE" / "dataset"
    for n, image_id in enumerate(SBD_TRAIN + SBD_VAL):
        segmentation = np.zeros((12, 16), np.uint8)
        segmentation[4:10, 1:6] = n + 11
        boundaries = np.empty((20, 1), object)  # SBD: a 20x1 cell of sparse logical boundary maps, one per class
        boundaries[:, 0] = [csc_matrix(segmentation == k + 1) for k in range(20)]
        gt = {"Boundaries": boundaries, "Segmentation": segmentation, "CategoriesPresent": np.array([[n + 11]], np.uint8)}
        writers.write_mat(sbd / "cls" / f"{image_id}.mat", {"GTcls": gt})
    (sbd / "train.txt").write_text("\n".join(SBD_TRAIN) + "\n")
    (sbd / "val.txt").write_text("\n".join(SBD_VAL) + "\n")
    return root


def test_voc_aug_train_aug_set_and_label_sources(voc_root):
    train = build_dataset("voc_aug", "train", root=voc_root)
    assert train.num_classes == 21 and train.class_names[15] == "person"
    # (SBD train + SBD val + VOC train) - VOC val
    ids = [image.stem for image, _ in train.samples]
    assert ids == ["2007_000032", "2007_000039", "2008_000002", "2008_000003"]
    assert [label.suffix for _, label in train.samples] == [".png", ".png", ".mat", ".mat"]
    assert [s[0].stem for s in build_dataset("voc_aug", "train_aug", root=voc_root).samples] == ids
    _, mask = train[0]  # VOC palette PNG: class ids with the 255 border kept
    assert torch.equal(mask, voc_ids(0).long())
    _, mask = train[2]  # SBD .mat (2008_000002 is SBD train item 0)
    expected = torch.zeros(12, 16, dtype=torch.int64)
    expected[4:10, 1:6] = 11
    assert torch.equal(mask, expected)
    val = build_dataset("voc_aug", "val", root=voc_root)
    assert [s[0].stem for s in val.samples] == VOC_VAL
    assert len(build_dataset("voc_aug", "train_voc", root=voc_root)) == 2


# --- ADE20K --------------------------------------------------------------------------------------------------


@pytest.fixture
def ade_root(tmp_path, writers):
    base = tmp_path / "ade" / "ADEChallengeData2016"
    for split, prefix, count in (("training", "ADE_train", 2), ("validation", "ADE_val", 1)):
        for k in range(1, count + 1):
            writers.write_jpeg(base / "images" / split / f"{prefix}_{k:08d}.jpg", pattern(k, 10, 14))
            raw = torch.arange(10 * 14, dtype=torch.uint8).reshape(10, 14) % 151  # 0..150
            writers.write_png(base / "annotations" / split / f"{prefix}_{k:08d}.png", raw)
    (base / "objectInfo150.txt").write_text("Idx\tRatio\tTrain\tVal\tName\n")
    return tmp_path / "ade"


def test_ade20k_zero_is_ignore_and_ids_shift(ade_root):
    train = build_dataset("ade20k", "train", root=ade_root)  # the parent of ADEChallengeData2016 works too
    assert len(train) == 2 and train.num_classes == 150 and len(train.class_names) == 150
    assert train.class_names[0] == "wall" and train.class_names[149] == "flag"
    _, mask = train[0]
    raw = torch.arange(10 * 14).reshape(10, 14) % 151
    assert torch.equal(mask, torch.where(raw == 0, 255, raw - 1))
    assert len(build_dataset("ade20k", "val", root=ade_root / "ADEChallengeData2016")) == 1


# --- PASCAL Context ------------------------------------------------------------------------------------------


def test_pascal_context_layout(tmp_path, writers):
    voc = tmp_path / "context" / "VOCdevkit" / "VOC2010"
    ids = {"train": ["2008_000008", "2008_000015"], "val": ["2008_000019"]}
    raw = (torch.arange(8 * 12).reshape(8, 12) % 60).to(torch.uint8)
    raw[0, :3] = 255
    for split, names in ids.items():
        for n, image_id in enumerate(names):
            writers.write_jpeg(voc / "JPEGImages" / f"{image_id}.jpg", pattern(n, 8, 12))
            writers.write_png(voc / "SegmentationClassContext" / f"{image_id}.png", raw)
        (voc / "ImageSets" / "SegmentationContext").mkdir(parents=True, exist_ok=True)
        (voc / "ImageSets" / "SegmentationContext" / f"{split}.txt").write_text("\n".join(names) + "\n")
    train = build_dataset("pascal_context", "train", root=tmp_path / "context")
    assert len(train) == 2 and train.num_classes == 60 and train.class_names[0] == "background"
    _, mask = train[1]
    assert torch.equal(mask, raw.long())
    assert len(build_dataset("pascal_context", "val", root=voc)) == 1


# --- CIFAR-10 python pickles ---------------------------------------------------------------------------------

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar_batches(folder, rows_per_batch=3, test_labels=(0, 9, 4), bad_label=None):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (rows_per_batch, 3072), dtype=np.uint8)
        labels = list(test_labels) if name == "test_batch" else [int(v) for v in rng.integers(0, 10, rows_per_batch)]
        if bad_label is not None and name == "test_batch":
            labels[-1] = bad_label
        batches[name] = (data, labels)
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "labels": labels, "data": data, "filenames": [f"{i}.png" for i in labels]}, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR_NAMES, "num_cases_per_batch": rows_per_batch, "num_vis": 3072}, f, protocol=2)
    return batches


def test_cifar10_python_pickles(tmp_path):
    batches = write_cifar_batches(tmp_path / "cifar" / "cifar-10-batches-py")
    train = build_dataset("cifar10", "train", root=tmp_path / "cifar")
    test = build_dataset("cifar10", "test", root=tmp_path / "cifar" / "cifar-10-batches-py")
    assert len(train) == 15 and len(test) == 3 and test.class_names == CIFAR_NAMES
    data, labels = batches["test_batch"]
    for index in range(3):
        image, label = test[index]
        assert label == labels[index]
        assert image.dtype == torch.uint8 and torch.equal(image, torch.from_numpy(data[index].reshape(3, 32, 32)))
    few = build_dataset("cifar10", "test", root=tmp_path / "cifar", per_class=1, limit=2)
    assert sorted(few.labels) == [0, 4] and torch.equal(few[1][0], test[2][0])  # slices keep their pixel rows


# --- SBD's MAT labels ---------------------------------------------------------------------------------------


def test_read_label_mat_sbd_struct(tmp_path, writers):
    seg = (np.arange(35).reshape(5, 7) % 21).astype(np.uint8)
    boundaries = np.empty((2, 1), object)
    boundaries[:, 0] = [csc_matrix(seg == 3), csc_matrix(seg == 4)]
    gt = {"Boundaries": boundaries, "Segmentation": seg, "CategoriesPresent": np.array([[3], [4]], np.uint8)}
    path = writers.write_mat(tmp_path / "x.mat", {"GTcls": gt, "other": np.ones((2, 2))})
    label = read_label_mat(path)
    assert label.dtype == torch.uint8 and torch.equal(label, torch.from_numpy(seg))  # (H, W), not transposed
    doubles = writers.write_mat(tmp_path / "d.mat", {"GTcls": {"Segmentation": seg.astype(np.float64)}})
    assert torch.equal(read_label_mat(doubles), label)  # a double matrix of ids (MATLAB's default class)


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing", "file not found"),
        ("truncated", "corrupt or unreadable MAT file"),
        ("v7.3", "MAT v7.3 (HDF5) file"),
        ("no struct", "no GTcls.Segmentation"),
        ("no field", "no GTcls.Segmentation"),
        ("out of range", "outside the 8-bit class ids"),
    ],
)
def test_read_label_mat_refuses_bad_files(tmp_path, writers, case, match):
    path = tmp_path / f"{case}.mat"
    seg = np.zeros((40, 40), np.uint8)
    if case == "truncated":
        good = writers.write_mat(tmp_path / "ok.mat", {"GTcls": {"Segmentation": seg + np.arange(40, dtype=np.uint8)}})
        path.write_bytes(good.read_bytes()[:-50])
    elif case == "v7.3":  # MATLAB's -v7.3 files are HDF5 with a MAT header: version 0x0200 at byte 124
        path.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(124, b" ") + b"\x00\x02IM" + b"\0" * 388)
    elif case == "no struct":
        writers.write_mat(path, {"Segmentation": seg})
    elif case == "no field":
        writers.write_mat(path, {"GTcls": {"Boundaries": seg}})
    elif case == "out of range":
        writers.write_mat(path, {"GTcls": {"Segmentation": np.full((4, 4), 300.0)}})
    with pytest.raises(DataError) as err:
        read_label_mat(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)) and match in message
