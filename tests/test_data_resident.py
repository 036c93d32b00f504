"""Device-resident data (drnlib.data.resident): the augmentation lands where its parameters say (checked against
torchvision's own functions with the same parameters), its parameters follow the recipe's distribution, the
evaluation batches score exactly as the DataLoader's, the decoded arrays are cached, and what cannot be resident
falls back to the loader (or, when asked for, fails on one line)."""

import math
from types import SimpleNamespace

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from drnlib.data import build_dataset, default_transform
from drnlib.data import transforms as T
from drnlib.data.resident import (DeviceAugment, NotResident, decode_split, eval_arrays, resident_batches)
from drnlib.errors import DataError, ParameterError
from drnlib.eval import evaluate
from drnlib.models import build_model
from drnlib.train import RunConfig
from drnlib.train.engine import make_batches
from drnlib.train.tasks import get_task

PLAIN = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # mean, std that leave [0, 1] images as they are
CPU = torch.device("cpu")


def recipe(*steps, mean_std=PLAIN):
    return v2.Compose([*steps, *T._normalize(*mean_std)])


def smooth_images(batch=6, height=40, width=52, seed=0):
    """uint8 images with smooth content (so bilinear sampling is well defined everywhere)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 5, 6, generator=g)
    return (torch.nn.functional.interpolate(coarse, (height, width), mode="bilinear") * 255).round().to(torch.uint8)


def marker_scene(batch=8, height=36, width=48):
    """Grey images with a red 6 x 8 block at rows 10..16, columns 30..38; masks 3 there, 1 elsewhere."""
    images = torch.full((batch, 3, height, width), 90, dtype=torch.uint8)
    images[:, 0, 10:16, 30:38], images[:, 1:, 10:16, 30:38] = 250, 10
    masks = torch.ones(batch, height, width, dtype=torch.uint8)
    masks[:, 10:16, 30:38] = 3
    return images, masks


# --- geometry: where the pixels go --------------------------------------------------------------------------------


def test_random_resized_crop_and_flip_equal_torchvision_with_the_same_box():
    augment = DeviceAugment(recipe(v2.RandomResizedCrop(24, scale=(0.2, 1.0), antialias=False),
                                   v2.RandomHorizontalFlip()))
    images = smooth_images()
    params = augment.sample(len(images), 40, 52, torch.Generator().manual_seed(1))
    out, _ = augment(images, None, None, params=params)
    assert out.shape == (6, 3, 24, 24) and params["flip"].any() and not params["flip"].all()
    for k, (top, left, h, w) in enumerate(params["box"].long().tolist()):
        expected = TF.resized_crop(images[k].float() / 255, top, left, h, w, [24, 24], antialias=False)
        if params["flip"][k]:
            expected = expected.flip(-1)
        # same sampling points; the outermost output pixels may read the image beyond the crop box (resized_crop
        # crops first, then clamps at the box edge), so compare the inside
        assert torch.allclose(out[k, :, 2:-2, 2:-2], expected[:, 2:-2, 2:-2], atol=1e-5), k


def test_rotation_equals_torchvision_rotate():
    """Counter-clockwise about the centre, as torchvision; the corners take the fill."""
    augment = DeviceAugment(recipe(v2.RandomRotation((25, 25), interpolation=v2.InterpolationMode.BILINEAR,
                                                     fill=0)))
    images = smooth_images(2)
    out, _ = augment(images, None, torch.Generator().manual_seed(0))
    expected = TF.rotate(images.float() / 255, 25, interpolation=v2.InterpolationMode.BILINEAR)
    assert (out - expected).abs().max() < 1e-4
    assert out[:, :, 0, 0].abs().max() == 0  # a corner: outside the rotated image, fill 0


def test_scale_crop_flip_moves_the_marker_and_keeps_masks_integral():
    """Segmentation recipe (random scale, padded crop, flip): the red block and its label land where the drawn
    matrix sends them; masks hold only the input's labels and 255; padding is the mean colour and 255."""
    augment = DeviceAugment(T.segment_train(crop_size=56, scale=(0.6, 1.6)))
    images, masks = marker_scene()
    params = augment.sample(len(images), 36, 48, torch.Generator().manual_seed(3))
    out, out_masks = augment(images, masks, None, params=params)
    assert out.shape == (8, 3, 56, 56) and out_masks.shape == (8, 56, 56) and out_masks.dtype == torch.int64
    assert set(out_masks.unique().tolist()) <= {1, 3, 255}
    assert (out_masks == 255).any()  # some crop reaches past a shrunk image
    inverse = torch.linalg.inv(params["matrix"])  # source pixel coordinates -> output pixel coordinates
    corners = torch.tensor([[30.0, 10, 1], [38, 10, 1], [30, 16, 1], [38, 16, 1]], dtype=torch.float64)
    seen = 0
    for k in range(len(images)):
        mapped = corners @ inverse[k].T
        x, y = mapped[:, 0].mean().item(), mapped[:, 1].mean().item()  # the block's centre, continuous
        label = out_masks[k] == 3
        if mapped[:, :2].min() >= 0 and mapped[:, :2].max() <= 56:  # the whole block is inside the crop
            rows, cols = label.nonzero(as_tuple=True)
            assert abs(cols.double().mean() - (x - 0.5)) < 1.0 and abs(rows.double().mean() - (y - 0.5)) < 1.0
            # image and label agree: every clearly red pixel is labelled, and every labelled pixel is at least a
            # third red (red 2.16, grey -0.58 once normalised; bilinear edges and corners are blends)
            assert (out[k, 0][label] > 0.35).all() and not ((out[k, 0] > 1.5) & ~label).any()
            seen += 1
        padded = out_masks[k] == 255
        if padded.any():  # mean colour -> ~0 after normalisation, away from the blended edge
            inner = torch.nn.functional.max_pool2d((~padded)[None, None].float(), 5, 1, 2)[0, 0] == 0
            if inner.any():
                assert out[k][:, inner].abs().max() < 0.02
    assert seen >= 3


def test_cifar_pad_crop_flip_is_exact_integer_indexing():
    augment = DeviceAugment(default_transform("cifar10", "train"))
    assert augment.integer
    images = smooth_images(16, 32, 32)
    params = augment.sample(16, 32, 32, torch.Generator().manual_seed(0))
    out, _ = augment(images, None, None, params=params)
    mean, std = torch.tensor(T.CIFAR10_MEAN)[:, None, None], torch.tensor(T.CIFAR10_STD)[:, None, None]
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))  # fill 0, as v2.RandomCrop(padding=4)
    for k, (top, left) in enumerate(params["offset"].long().tolist()):
        expected = padded[k, :, top + 4: top + 36, left + 4: left + 36]
        if params["flip"][k]:
            expected = expected.flip(-1)
        assert torch.equal(out[k], expected.float().mul_(1 / 255).sub_(mean).div_(std))


def test_color_jitter_equals_torchvision_per_sample():
    augment = DeviceAugment(recipe(v2.ColorJitter(0.4, 0.4, 0.4)))
    images = smooth_images(12)
    params = augment.sample(12, 40, 52, torch.Generator().manual_seed(0))
    out, _ = augment(images, None, None, params=params)
    functions = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation)
    assert len({tuple(o) for o in params["jitter_order"].tolist()}) > 1  # orders differ between samples
    for k in range(12):
        expected = images[k].float() / 255
        for op in params["jitter_order"][k].tolist():
            expected = functions[op](expected, float(params["jitter"][k, op]))
        assert torch.allclose(out[k], expected, atol=1e-6)


# --- distributions --------------------------------------------------------------------------------------------------


def test_parameters_follow_the_recipe_ranges():
    g = torch.Generator().manual_seed(0)
    crop = DeviceAugment(default_transform("tiny_imagenet", "train", size=56))
    p = crop.sample(4000, 64, 64, g)
    top, left, h, w = p["box"].T
    area, aspect = h * w / (64 * 64), w / h
    # rounding the sides to whole pixels moves the area fraction by at most about a side's pixel
    assert area.min() >= 0.25 - 2 / 64 and area.max() <= 1.0 and area.max() > 0.95 and area.min() < 0.28
    assert aspect.min() >= 3 / 4 - 0.05 and aspect.max() <= 4 / 3 + 0.05
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 64).all() and (left + w <= 64).all()
    assert 0.45 < p["flip"].double().mean() < 0.55 and p["jitter"].min() >= 0.6 and p["jitter"].max() <= 1.4
    # the same distribution as torchvision's own sampler (which rejects boxes that do not fit, so the area
    # fraction is not uniform): means within 4.5 standard errors (sd ~0.2: 0.0045 for 4000 draws each)
    reference = v2.RandomResizedCrop(56, scale=(0.25, 1.0))
    boxes = [reference.make_params([tv_tensors.Image(torch.zeros(3, 64, 64))]) for _ in range(4000)]
    tv_area = torch.tensor([b["height"] * b["width"] / 64**2 for b in boxes], dtype=torch.float64)
    tv_aspect = torch.tensor([b["width"] / b["height"] for b in boxes], dtype=torch.float64)
    assert abs(area.mean() - tv_area.mean()) < 0.02 and abs(aspect.mean() - tv_aspect.mean()) < 0.02
    assert abs(area.std() - tv_area.std()) < 0.02

    segment = DeviceAugment(T.segment_train(crop_size=64, scale=(0.5, 2.0), rotate=10))
    p = segment.sample(4000, 36, 48, g)
    assert p["ratio"].min() >= 0.5 and p["ratio"].max() <= 2.0 and abs(p["ratio"].mean() - 1.25) < 0.03
    assert p["angle"].abs().max() <= 10 and p["angle"].min() < -9 and p["angle"].max() > 9
    cifar = DeviceAugment(default_transform("cifar10", "train"))
    offsets = cifar.sample(4000, 32, 32, g)["offset"]
    assert offsets.min() == -4 and offsets.max() == 4 and len(offsets.unique()) == 9


def test_unsupported_recipes_are_not_resident():
    with pytest.raises(NotResident, match="RandomVerticalFlip"):
        DeviceAugment(recipe(v2.RandomVerticalFlip()))
    with pytest.raises(NotResident, match="hue"):
        DeviceAugment(recipe(v2.ColorJitter(hue=0.1)))
    with pytest.raises(NotResident, match="different sizes"):
        DeviceAugment(recipe(T.RandomScale(0.5, 2)))
    with pytest.raises(NotResident, match="Normalize"):
        DeviceAugment(v2.Compose([v2.RandomHorizontalFlip()]))


# --- real data: decoding, cache, exact evaluation ---------------------------------------------------------------


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DRNLIB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_decode_is_cached_and_reused_without_decoding(tiny_imagenet_root, fresh_cache, monkeypatch):
    data = build_dataset("tiny_imagenet", "train", root=tiny_imagenet_root, limit=12)
    images, labels = decode_split(data, workers=1)
    assert images.shape == (12, 3, 64, 64) and images.dtype == torch.uint8
    assert labels.tolist() == data.labels  # round-robin over the classes, as select() orders them
    assert torch.equal(images[5], data.load(5)[0])
    entries = list((fresh_cache / "resident").iterdir())
    assert len(entries) == 1 and sorted(p.name for p in entries[0].iterdir()) == ["images.npy", "meta.json",
                                                                                "targets.npy"]

    def no_decoding(index):
        raise AssertionError("decoded again")

    again = build_dataset("tiny_imagenet", "train", root=tiny_imagenet_root, limit=12)
    monkeypatch.setattr(again, "load", no_decoding)
    cached_images, cached_labels = decode_split(again)
    assert torch.equal(cached_images, images) and torch.equal(cached_labels, labels)
    # another selection is another entry
    decode_split(build_dataset("tiny_imagenet", "train", root=tiny_imagenet_root, limit=13))
    assert len(list((fresh_cache / "resident").iterdir())) == 2


def test_camvid_masks_decode_with_void_as_255(camvid_root, fresh_cache):
    data = build_dataset("camvid", "val", root=camvid_root, limit=2)
    images, masks = decode_split(data)
    assert images.shape == (2, 3, 360, 480) and masks.shape == (2, 360, 480) and masks.dtype == torch.uint8
    assert torch.equal(masks[1].long(), data.load(1)[1].as_subclass(torch.Tensor))
    assert set(masks.unique().tolist()) <= set(range(11)) | {255} and (masks == 255).any()


def procs():
    return SimpleNamespace(device=CPU, rank=0, world_size=1, distributed=False)


def both_paths(cfg):
    task = get_task(cfg.task)
    train, val = task.datasets(cfg)
    out = {}
    for path in ("resident", "loader"):
        batches, val_batches, used = make_batches(cfg.replace(data_path=path), task, train, val, procs(),
                                                  torch.Generator().manual_seed(0), cfg.batch_size)
        assert used == path
        out[path] = (batches, val_batches)
    return task, out


@pytest.mark.parametrize("setting", [
    dict(arch="resnet18", dataset="tiny_imagenet", task="classify", crop_size=56, limit_val=20, batch_size=8),
    dict(arch="resnet18", dataset="camvid", task="segment", crop_size=64, limit_val=2, batch_size=2),
], ids=["tiny_imagenet", "camvid"])
def test_evaluation_scores_equal_the_loader_path(setting, tiny_imagenet_root, camvid_root):
    cfg = RunConfig(**setting, limit_train=4, device="cpu", workers=0)
    task, paths = both_paths(cfg)
    torch.manual_seed(0)
    model = build_model(cfg.arch, num_classes=100 if cfg.dataset == "tiny_imagenet" else 11,
                        task=task.model_task).eval()
    scores = {path: evaluate(model, val, task.eval_task, num_classes=100 if cfg.task == "classify" else 11,
                             device=CPU) for path, (_, val) in paths.items()}
    resident, loader = scores["resident"], scores["loader"]
    resident.pop("confusion", None), loader.pop("confusion", None)
    assert resident == loader  # bit for bit: same images, same batches, same arithmetic
    count = "images" if cfg.task == "classify" else "pixels"
    assert resident[count] > 0


def test_training_batches_match_the_loader_in_shape_and_statistics(tiny_imagenet_root, camvid_root):
    cfg = RunConfig(arch="resnet18", dataset="camvid", task="segment", crop_size=64, limit_train=8, limit_val=1,
                    batch_size=4, device="cpu", workers=0)
    _, paths = both_paths(cfg)
    (resident, _), (loader, _) = paths["resident"], paths["loader"]
    assert len(resident) == len(loader) == 2
    r_images, r_masks = next(iter(resident))
    l_images, l_masks = next(iter(loader))
    assert r_images.shape == l_images.shape and r_images.dtype == l_images.dtype == torch.float32
    assert r_masks.shape == l_masks.shape and r_masks.dtype == l_masks.dtype == torch.int64
    assert set(r_masks.unique().tolist()) <= set(range(11)) | {255}
    # over 12 epochs (96 crops each) the two paths see the same colours and classes: channel means within 0.3
    # and class shares within 0.12, about 3 standard errors of the difference (one 64 x 64 crop's channel mean
    # has a standard deviation of about 0.7 here, a class's share of it about 0.3: crops hold one or two
    # classes; over 1,200 crops each both paths' means agreed within 0.01)
    torch.manual_seed(0)  # the loader path's augmentation draws from the global generator
    stats = {}
    for name, batches in (("resident", resident), ("loader", loader)):
        means, counts = [], torch.zeros(256)
        for _ in range(12):
            for images, masks in batches:
                means.append(images.mean(dim=(2, 3)))
                counts += torch.bincount(masks.flatten(), minlength=256).float()
        stats[name] = torch.cat(means).mean(dim=0), counts / counts.sum()
    assert (stats["resident"][0] - stats["loader"][0]).abs().max() < 0.3
    assert (stats["resident"][1] - stats["loader"][1]).abs().max() < 0.12


# --- what stays on the loader path ----------------------------------------------------------------------------------


@pytest.fixture
def imagenet_tree(tmp_path, writers):
    """A 2-class ImageNet tree whose training images differ in size (as ImageNet's do)."""
    root = tmp_path / "imagenet"
    for k, wnid in enumerate(["n01440764", "n01443537"]):
        for j in range(4):
            size = (30 + 4 * j, 40)
            image = (torch.rand(3, *size, generator=torch.Generator().manual_seed(10 * k + j)) * 255).to(torch.uint8)
            writers.write_jpeg(root / "train" / wnid / f"{wnid}_{j}.JPEG", image)
            writers.write_jpeg(root / "val" / wnid / f"val_{k}_{j}.JPEG", image)
    return root


def test_data_sets_that_cannot_be_resident_fall_back_or_fail_on_one_line(imagenet_tree, fresh_cache):
    cfg = RunConfig(arch="resnet18", dataset="imagenet", data_root=str(imagenet_tree), crop_size=24, batch_size=4,
                    device="cpu", workers=0)
    task = get_task("classify")
    train, val = task.datasets(cfg)
    _, _, used = make_batches(cfg, task, train, val, procs(), torch.Generator(), 4)  # auto
    assert used == "loader"
    with pytest.raises(DataError) as error:
        make_batches(cfg.replace(data_path="resident"), task, train, val, procs(), torch.Generator(), 4)
    assert "differ in size" in str(error.value) and "\n" not in str(error.value)
    assert isinstance(error.value, NotResident)


def test_data_path_is_checked():
    with pytest.raises(ParameterError, match="data_path"):
        RunConfig(data_path="gpu")


def test_a_split_over_the_memory_budget_is_not_resident(tiny_imagenet_root, fresh_cache):
    root = tiny_imagenet_root  # the shared unpacked copy; the resident arrays go to the fresh cache
    train = build_dataset("tiny_imagenet", "train", root=root, transform=default_transform("tiny_imagenet", "train"),
                          limit=8)
    val = build_dataset("tiny_imagenet", "val", root=root, transform=default_transform("tiny_imagenet", "val"),
                        limit=4)
    with pytest.raises(NotResident, match="memory budget"):
        resident_batches(train, val, batch_size=4, eval_batch_size=4, device=CPU, budget=8 * 3 * 64 * 64)
    train_batches, val_batches = resident_batches(train, val, batch_size=4, eval_batch_size=4, device=CPU,
                                                  budget=16 * 3 * 64 * 64)
    assert len(train_batches) == 2 and len(val_batches) == 1


def test_evaluation_arrays_keep_uint8_after_the_deterministic_transform(tiny_imagenet_root, fresh_cache):
    val = build_dataset("tiny_imagenet", "val", root=tiny_imagenet_root, transform=T.classify_eval(56, 64), limit=3)
    images, labels, mean, std = eval_arrays(val)
    assert images.dtype == torch.uint8 and images.shape == (3, 3, 56, 56) and mean == T.IMAGENET_MEAN
    expected = val[1][0]  # the loader path's sample: the same transform, normalised
    assert torch.equal((images[1].float().mul_(1 / 255) - torch.tensor(mean)[:, None, None])
                       / torch.tensor(std)[:, None, None], expected)
    assert math.isclose(float(labels[1]), val.samples[1][1])
