"""Bad data gives a one-line DataError naming the file: missing root, empty split, corrupt images, labels out of
range, size mismatches; also from DataLoader workers and verify(). And the registry's lookup and unpacking."""

import dataclasses
import functools
import hashlib
import http.server
import multiprocessing
import os
import pickle
import sys
import tarfile
import threading
import time

import numpy as np
import pytest
import torch

from drnlib.data import build_dataset, build_loader, registry
from drnlib.errors import DataError, DrnError, ParameterError


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, DrnError)
    return message


def image(height=12, width=16, seed=0) -> torch.Tensor:
    return ((torch.arange(3 * height * width).reshape(3, height, width) * (seed + 7)) % 256).to(torch.uint8)


@pytest.fixture
def camvid_tree(tmp_path, writers):
    """A CamVid-layout tree: train has 3 pairs, val 1; labels 0..11."""
    root = tmp_path / "camvid"
    for split, count in (("train", 3), ("val", 1), ("test", 1)):
        lines = []
        for k in range(count):
            writers.write_jpeg(root / split / f"f{k}.jpg", image(seed=k))
            writers.write_png(root / f"{split}annot" / f"f{k}.png", (torch.arange(12 * 16).reshape(12, 16) % 12).to(torch.uint8))
            lines.append(f"{split}/f{k}.jpg {split}annot/f{k}.png")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_camvid_fixture_tree_reads(camvid_tree):
    data = build_dataset("camvid", "train", root=camvid_tree)
    assert len(data) == 3 and data.verify() == 3
    _, mask = data[0]
    assert (mask == 255).sum() == (torch.arange(12 * 16) % 12 == 11).sum()


def test_segnet_absolute_paths_in_split_files(camvid_tree):
    (camvid_tree / "val.txt").write_text("/SegNet/CamVid/val/f0.jpg /SegNet/CamVid/valannot/f0.png\n")
    assert build_dataset("camvid", "val", root=camvid_tree).samples[0][0] == camvid_tree / "val" / "f0.jpg"


# --- missing and empty ---------------------------------------------------------------------------------------


def test_missing_data_root(tmp_path):
    with pytest.raises(DataError) as err:
        build_dataset("camvid", "train", root=tmp_path / "nowhere")
    assert "nowhere" in one_line(err)


def test_no_source_anywhere_says_what_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("DRNLIB_SHARED_DATA", str(tmp_path / "no-shared"))
    monkeypatch.setenv("DRNLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DRNLIB_DOWNLOAD", raising=False)
    for name, expect in (("cityscapes", "cityscapes-dataset.com"), ("camvid", "camvid-segnet.tar"), ("voc_aug", "VOCdevkit")):
        with pytest.raises(DataError) as err:
            build_dataset(name, "train")
        message = one_line(err)
        assert expect in message and str(tmp_path / "cache") in message


def test_missing_split_file_and_empty_split(camvid_tree):
    (camvid_tree / "val.txt").unlink()
    with pytest.raises(DataError) as err:
        build_dataset("camvid", "val", root=camvid_tree)
    assert "val.txt" in one_line(err)
    (camvid_tree / "test.txt").write_text("\n")
    with pytest.raises(DataError) as err:
        build_dataset("camvid", "test", root=camvid_tree)
    assert "no samples" in one_line(err)


def test_empty_image_folder_split(tmp_path):
    (tmp_path / "cifar" / "train" / "cat").mkdir(parents=True)
    with pytest.raises(DataError) as err:
        build_dataset("cifar10", "train", root=tmp_path / "cifar")
    assert "no samples" in one_line(err)


def test_unknown_name_split_task_are_parameter_errors(camvid_tree):
    with pytest.raises(ParameterError, match="unknown data set"):
        build_dataset("mnist", "train")
    with pytest.raises(ParameterError, match="split"):
        build_dataset("camvid", "training", root=camvid_tree)
    with pytest.raises(ParameterError, match="data set camvid serves segment only, not classify"):
        build_dataset("camvid", "train", "classify", root=camvid_tree)
    with pytest.raises(ParameterError, match="option"):
        build_dataset("camvid", "train", root=camvid_tree, image_size=3)


# --- corrupt files -------------------------------------------------------------------------------------------


def test_corrupt_jpeg_named_at_load_and_by_verify(camvid_tree):
    bad = camvid_tree / "train" / "f1.jpg"
    bad.write_bytes(bad.read_bytes()[:200])  # truncated
    data = build_dataset("camvid", "train", root=camvid_tree)
    data[0]  # the others still load
    with pytest.raises(DataError) as err:
        data[1]
    assert str(bad) in one_line(err)
    with pytest.raises(DataError) as err:
        data.verify()
    assert str(bad) in one_line(err)
    bad.write_bytes(b"")  # empty file
    with pytest.raises(DataError, match="f1.jpg"):
        data[1]


def test_corrupt_png_label(camvid_tree):
    bad = camvid_tree / "trainannot" / "f2.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError) as err:
        build_dataset("camvid", "train", root=camvid_tree)[2]
    assert str(bad) in one_line(err)


def test_worker_errors_come_back_as_one_line(camvid_tree):
    bad = camvid_tree / "train" / "f2.jpg"
    bad.write_bytes(b"not a jpeg")
    data = build_dataset("camvid", "train", root=camvid_tree)
    loader = build_loader(data, batch_size=1, train=False, num_workers=1)
    with pytest.raises(DataError) as err:
        list(loader)
    assert str(bad) in one_line(err) and "Traceback" not in str(err.value)
    with pytest.raises(DataError) as err:
        data.verify(num_workers=1)
    assert str(bad) in one_line(err)


# --- labels out of range -------------------------------------------------------------------------------------


def test_segmentation_label_out_of_range(camvid_tree, writers):
    bad = camvid_tree / "trainannot" / "f0.png"
    writers.write_png(bad, torch.full((12, 16), 12, dtype=torch.uint8))  # CamVid ids are 0..11
    with pytest.raises(DataError) as err:
        build_dataset("camvid", "train", root=camvid_tree)[0]
    assert str(bad) in one_line(err) and "12" in str(err.value)


def test_sbd_mat_label_out_of_range(tmp_path, writers):
    voc = tmp_path / "voc" / "VOCdevkit" / "VOC2012"
    writers.write_jpeg(voc / "JPEGImages" / "2008_000002.jpg", image())
    (voc / "ImageSets" / "Segmentation").mkdir(parents=True)
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("")
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text("2007_000033\n")
    sbd = tmp_path / "voc" / "benchmark_RELEASE" / "dataset"
    writers.write_mat(sbd / "cls" / "2008_000002.mat", {"GTcls": {"Segmentation": np.full((12, 16), 40, np.uint8)}})
    (sbd / "train.txt").write_text("2008_000002\n")
    (sbd / "val.txt").write_text("")
    with pytest.raises(DataError) as err:
        build_dataset("voc_aug", "train", root=tmp_path / "voc")[0]
    assert "2008_000002.mat" in one_line(err) and "40" in str(err.value)


def test_rgb_label_png_is_refused(camvid_tree, writers):
    writers.write_png(camvid_tree / "trainannot" / "f0.png", image())
    with pytest.raises(DataError, match="single-channel"):
        build_dataset("camvid", "train", root=camvid_tree)[0]


def test_classification_label_out_of_range(tmp_path, writers):
    # Tiny ImageNet val annotation naming a class that is not in wnids.txt
    root = tmp_path / "tiny"
    writers.write_jpeg(root / "val" / "images" / "val_0.JPEG", image(64, 64))
    (root / "wnids.txt").write_text("n01443537\n")
    (root / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99999999\t0\t0\t10\t10\n")
    with pytest.raises(DataError) as err:
        build_dataset("tiny_imagenet", "val", root=root)
    assert "val_annotations.txt:1" in one_line(err) and "n99999999" in str(err.value)
    # CIFAR-10 pickle with label 10 (classes are 0..9): caught when the sample is loaded
    folder = tmp_path / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{k}" for k in range(10)]}, f)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [3, 10]}, f)
    data = build_dataset("cifar10", "test", root=folder)
    assert data[0][1] == 3
    with pytest.raises(DataError) as err:
        data[1]
    assert "test_batch" in one_line(err) and "out of range" in str(err.value)


def test_bad_box_is_refused(tmp_path, writers):
    root = tmp_path / "tiny"
    writers.write_jpeg(root / "val" / "images" / "val_0.JPEG", image(64, 64))
    (root / "wnids.txt").write_text("n01443537\n")
    (root / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn01443537\t30\t0\t10\t10\n")
    with pytest.raises(DataError, match="val_annotations.txt:1"):
        build_dataset("tiny_imagenet", "val", "localize", root=root)
    (root / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn01443537\t70\t70\t80\t80\n")  # outside 64x64
    with pytest.raises(DataError, match="outside"):
        build_dataset("tiny_imagenet", "val", "localize", root=root)[0]


# --- size mismatch -------------------------------------------------------------------------------------------


def test_image_label_size_mismatch(camvid_tree, writers):
    bad = camvid_tree / "trainannot" / "f1.png"
    writers.write_png(bad, torch.zeros(10, 16, dtype=torch.uint8))
    with pytest.raises(DataError) as err:
        build_dataset("camvid", "train", root=camvid_tree)[1]
    message = one_line(err)
    assert str(bad) in message and "f1.jpg" in message and "(10, 16)" in message and "(12, 16)" in message


# --- registry: lookup order, unpacking once and atomically, downloads ----------------------------------------


def make_archive(path, folder="toy", files=50):
    staging = path.parent / f"staging-{path.stem}"
    for k in range(files):
        (staging / folder / "sub").mkdir(parents=True, exist_ok=True)
        (staging / folder / "sub" / f"{k}.txt").write_text(f"file {k}\n" * 100)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(staging / folder, arcname=folder)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def toy_source(tmp_path, monkeypatch):
    """The 'camvid' entry pointed at a toy archive in a temporary shared folder, with a temporary cache."""
    shared, cache = tmp_path / "shared", tmp_path / "cache"
    shared.mkdir()
    digest = make_archive(shared / "toy.tar.gz")
    source = dataclasses.replace(registry.SOURCES["camvid"], archive="toy.tar.gz", archive_sha256=digest, folder="toy")
    monkeypatch.setitem(registry.SOURCES, "camvid", source)
    monkeypatch.setenv("DRNLIB_SHARED_DATA", str(shared))
    monkeypatch.setenv("DRNLIB_CACHE", str(cache))
    return shared, cache


def test_locate_unpacks_shared_archive_once(toy_source, tmp_path, monkeypatch):
    shared, cache = toy_source
    monkeypatch.setitem(sys.modules, "pooch", None)  # the GPU machine has no pooch: only downloads may need it
    root = registry.locate("camvid")
    assert root == cache / "toy" and len(list((root / "sub").iterdir())) == 50
    stamp = (root / "sub" / "0.txt").stat().st_mtime_ns
    assert registry.locate("camvid") == root and (root / "sub" / "0.txt").stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir()] == ["toy"]  # no temporary folders left
    assert registry.locate("camvid", root=tmp_path) == tmp_path  # a given root comes first


def test_checksum_mismatch_and_corrupt_archive_leave_nothing(toy_source):
    shared, cache = toy_source
    with open(shared / "toy.tar.gz", "ab") as f:
        f.write(b"tampered")
    with pytest.raises(DataError) as err:
        registry.locate("camvid")
    assert "checksum" in one_line(err) and not (cache / "toy").exists()
    (shared / "toy.tar.gz").write_bytes(b"\x1f\x8b" + b"\0" * 100)  # a broken gzip
    with pytest.raises(DataError):
        registry.unpack([(shared / "toy.tar.gz", None)], "toy")
    assert not (cache / "toy").exists() and not list(cache.glob(".toy.unpack-*"))


def test_stale_partial_unpack_is_never_used(toy_source):
    shared, cache = toy_source
    stale = cache / ".toy.unpack-killed"
    (stale / "toy").mkdir(parents=True)  # what a killed unpack leaves behind
    old = time.time() - 7200
    os.utime(stale, (old, old))
    root = registry.locate("camvid")
    assert root == cache / "toy" and len(list((root / "sub").iterdir())) == 50 and not stale.exists()


def _locate_in_child(queue):
    queue.put(str(registry.locate("camvid")))


def test_concurrent_unpacks_give_one_complete_tree(toy_source):
    shared, cache = toy_source
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=_locate_in_child, args=(queue,)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert {queue.get(), queue.get()} == {str(cache / "toy")}
    assert len(list((cache / "toy" / "sub").iterdir())) == 50 and [p.name for p in cache.iterdir()] == ["toy"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_folder(tmp_path, monkeypatch):
    """A folder served over HTTP from 127.0.0.1 by a thread (downloads are tested without the internet):
    yields (folder, base url)."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a proxy set in the environment must not take the request
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def with_download(monkeypatch, url, checksum):
    source = dataclasses.replace(registry.SOURCES["camvid"], downloads=(registry.Download(url, checksum),))
    monkeypatch.setitem(registry.SOURCES, "camvid", source)


def test_cache_then_download(toy_source, http_folder, monkeypatch):
    pytest.importorskip("pooch")  # downloads need pooch; the GPU machine has none
    shared, cache = toy_source
    www, base = http_folder
    (shared / "toy.tar.gz").rename(www / "official.tar.gz")
    with pytest.raises(DataError, match="no data found"):
        registry.locate("camvid")  # no archive, nothing in the cache, downloads not asked for
    digest = hashlib.md5((www / "official.tar.gz").read_bytes()).hexdigest()
    with_download(monkeypatch, f"{base}/official.tar.gz", f"md5:{digest}")
    root = registry.locate("camvid", download_if_missing=True)
    assert root == cache / "toy" and len(list((root / "sub").iterdir())) == 50
    assert sorted(p.name for p in (cache / "downloads").iterdir()) == ["official.tar.gz"]
    (www / "official.tar.gz").unlink()
    assert registry.locate("camvid") == root  # now found in the cache


def test_failed_downloads_are_one_line_and_leave_nothing(toy_source, http_folder, monkeypatch):
    pytest.importorskip("pooch")
    shared, cache = toy_source
    www, base = http_folder
    (shared / "toy.tar.gz").rename(www / "official.tar.gz")
    with_download(monkeypatch, f"{base}/official.tar.gz", "sha256:" + "0" * 64)
    with pytest.raises(DataError) as err:
        registry.locate("camvid", download_if_missing=True)
    assert "official.tar.gz" in one_line(err) and "does not match" in str(err.value)
    assert not (cache / "toy").exists() and not list((cache / "downloads").iterdir())  # pooch removed its temp file
    with_download(monkeypatch, f"{base}/missing.tar.gz", None)
    with pytest.raises(DataError) as err:
        registry.locate("camvid", download_if_missing=True)
    assert "missing.tar.gz failed" in one_line(err) and "404" in str(err.value)


def test_download_without_pooch_says_so(toy_source, monkeypatch):
    shared, cache = toy_source
    (shared / "toy.tar.gz").unlink()
    with_download(monkeypatch, "http://127.0.0.1:9/official.tar.gz", None)
    monkeypatch.setitem(sys.modules, "pooch", None)  # what `import pooch` meets where it is not installed
    with pytest.raises(DataError) as err:
        registry.locate("camvid", download_if_missing=True)
    assert "needs pooch" in one_line(err)
