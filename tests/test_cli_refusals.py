"""Runs that cannot work are refused before any work, with one line: a task the data set cannot serve (checked
before any data is read), and a batch whose BatchNorm layers would see a single value per channel (checked before
the first step, on the meta device)."""

import pytest
import torch

from drnlib.analysis.architecture import batchnorm_inputs, smallest_input_side
from drnlib.cli import main
from drnlib.data import DATASETS, build_dataset, default_transform
from drnlib.data.synthetic import SyntheticScenes
from drnlib.errors import ParameterError
from drnlib.models import build_model
from drnlib.train import RunConfig, fit
from drnlib.train.distributed import Processes
from drnlib.train.engine import check_batchnorm_batch

FAST = ["--device", "cpu", "--workers", "0", "--no-progress"]


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


# --- task x data set ----------------------------------------------------------------------------------------------

# What each data set's annotations allow: labels (classify), labels and boxes (localize, DRN Sec. 5.2), masks (segment).
SERVES = {
    "tiny_imagenet": {"classify", "localize"}, "imagenet": {"classify", "localize"}, "cifar10": {"classify"},
    "camvid": {"segment"}, "cityscapes": {"segment"}, "voc_aug": {"segment"}, "ade20k": {"segment"},
    "pascal_context": {"segment"}, "synthetic": {"classify", "localize", "segment"},
}
TINY = ["--arch", "resnet_cifar_20", "--batch-size", "2", "--limit-train", "2", "--limit-val", "1", *FAST]


def test_every_data_set_is_in_the_table():
    assert set(SERVES) == set(DATASETS)
    assert {name: set(cls.tasks) for name, cls in DATASETS.items()} == SERVES


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """A data layer that finds nothing: any attempt to read a real data set ends in 'no data found'."""
    for name in ("cache", "shared"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("DRNLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DRNLIB_SHARED_DATA", str(tmp_path / "shared"))
    monkeypatch.setenv("DRNLIB_DOWNLOAD", "0")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A classification and a segmentation checkpoint (one step each on synthetic scenes), to evaluate."""
    runs = {}
    for task in ("classify", "segment"):
        out = tmp_path_factory.mktemp(task)
        assert main(["train", "--task", task, "--dataset", "synthetic", "--out-dir", str(out), *TINY]) == 0
        runs[task] = out / "checkpoint.pt"
    return runs


@pytest.mark.parametrize("dataset", list(SERVES))
@pytest.mark.parametrize("command, task", [("train", "classify"), ("train", "segment"), ("evaluate", "classify"),
                                           ("evaluate", "segment"), ("evaluate", "localize")])
def test_task_and_data_set_are_checked_before_any_data_is_read(no_data, checkpoints, tmp_path, capsys, command,
                                                               task, dataset):
    if command == "train":
        args = ["train", "--out-dir", str(tmp_path / "run"), *TINY]
    else:
        trained = checkpoints["segment" if task == "segment" else "classify"]
        args = ["evaluate", "--checkpoint", str(trained), "--limit-val", "1", "--loc-threshold", "0.5", *FAST]
    capsys.readouterr()
    code = main([*args, "--task", task, "--dataset", dataset])
    if task in SERVES[dataset]:  # past the check: synthetic scenes run, real data sets are looked up (and missing)
        if dataset == "synthetic":
            assert code == 0, capsys.readouterr().err
        else:
            assert code == 2 and f"error: {dataset}: no data found" in error_line(capsys)
        return
    line = error_line(capsys)  # refused before the data lookup, which would have said "no data found"
    assert code == 2
    served = sorted(SERVES[dataset])
    assert line.startswith(f"error: data set {dataset} serves {' and '.join(served)} only, not {task}")
    assert line.endswith(", ".join(n for n in DATASETS if task in SERVES[n]))
    assert ("bounding boxes" in line) == (task == "localize")
    assert not (tmp_path / "run").exists()


def test_data_layer_gives_notebooks_the_same_message(tmp_path):
    with pytest.raises(ParameterError, match="data set cifar10 serves classify only, not segment"):
        default_transform("cifar10", "train", "segment")  # was: TypeError from cifar_train(crop_size=...)
    with pytest.raises(ParameterError, match="data set camvid serves segment only, not localize"):
        build_dataset("camvid", "val", "localize", root=tmp_path / "missing")  # before the root is looked at
    with pytest.raises(ParameterError, match="unknown task 'detect'"):
        build_dataset("synthetic", "val", "detect")


# --- a single value per channel in a BatchNorm layer --------------------------------------------------------------

def test_brief_case_one_line_before_the_first_step(tiny_imagenet_root, tmp_path, capsys):
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", "--arch", "resnet18", "--dataset", "tiny_imagenet", "--crop-size", "32", "--batch-size",
                 "1", "--limit-train", "2", "--out-dir", str(out), *FAST]) == 2
    line = error_line(capsys)
    assert line.startswith("error: resnet18 at a 32x32 crop reaches a 1x1 map (512 channels)")
    assert "a batch of 1 per process" in line and "--batch-size 2" in line and "--crop-size 33" in line
    assert not out.exists()  # nothing written: refused before the first step


def test_frozen_batchnorm_trains_with_a_batch_of_one(tiny_imagenet_root, tmp_path):
    """freeze_bn: BN layers in eval mode normalise with running statistics, so a 1x1 map with a batch of one trains
    (the suggested crop, 33, is shown to train by test_the_traced_boundary_is_torchs)."""
    assert main(["train", "--arch", "resnet18", "--dataset", "tiny_imagenet", "--crop-size", "32", "--batch-size",
                 "1", "--limit-train", "1", "--limit-val", "1", "--freeze-bn", "--out-dir", str(tmp_path / "run"),
                 *FAST]) == 0


FAMILIES = ["resnet18", "drn_a_18", "drn_b_26", "drn_c_26", "drn_d_22", "model_a", "224-0-1-1-1-1-1-1"]


@pytest.mark.parametrize("task", ["classify", "segment"])
@pytest.mark.parametrize("arch", FAMILIES)
def test_every_family_is_checked_at_its_own_boundary(arch, task):
    """Just below the smallest crop whose maps are all 2x2 or larger, a batch of one is refused; at it, it passes."""
    with torch.device("meta"):
        model = build_model(arch, num_classes=5, task=task)
    crop = smallest_input_side(model)
    # ResNets and WoD classifiers end at stride 32 (ceil(crop / 32) >= 2 from 33 on); DRNs and the WoD segmentation
    # nets (dilated) at stride 8 (from 9 on)
    stride_32 = arch == "resnet18" or (arch in ("model_a", "224-0-1-1-1-1-1-1") and task == "classify")
    assert crop == (33 if stride_32 else 9)
    cpu = Processes()
    cfg = RunConfig(arch=arch, task=task, crop_size=crop - 1, batch_size=1)
    with pytest.raises(ParameterError, match=rf"{arch} at a {crop - 1}x{crop - 1} crop reaches a 1x1 map .*"
                                             rf"\(--crop-size {crop}\)"):
        check_batchnorm_batch(model, cfg, cpu, 1, train_set=None)
    check_batchnorm_batch(model, cfg.replace(crop_size=crop), cpu, 1, train_set=None)
    check_batchnorm_batch(model, cfg, cpu, 2, train_set=None)  # two values per channel: fine
    check_batchnorm_batch(model, cfg.replace(freeze_bn=True), cpu, 1, train_set=None)
    synced = Processes(world_size=2, device=torch.device("cuda", 0))  # SyncBatchNorm: statistics over 2 processes
    check_batchnorm_batch(model, cfg, synced, 1, train_set=None)


@pytest.mark.parametrize("arch, task", [("resnet18", "classify"), ("drn_d_22", "segment"),
                                        ("224-0-1-1-1-1-1-1", "classify")])
def test_the_traced_boundary_is_torchs(arch, task):
    """torch itself refuses a real training forward just below the computed crop and accepts it at the crop."""
    model = build_model(arch, num_classes=3, task=task).train()
    crop = smallest_input_side(model)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        model(torch.randn(1, 3, crop - 1, crop - 1))
    model(torch.randn(1, 3, crop, crop))


def test_trace_leaves_the_model_as_it_was():
    model = build_model("drn_c_26", num_classes=3, task="segment").train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    shapes = batchnorm_inputs(model, 32, batch=1)
    assert len(shapes) == sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert min(s[-1] for s in shapes) == 4  # output stride 8
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # no statistics updated
    assert all(p.device.type == "cpu" for p in model.parameters()) and model.training
    assert batchnorm_inputs(model.eval(), 32) == []  # eval mode: running statistics, nothing to check


def test_fixed_size_data_set_segmentation_through_fit(tmp_path):
    """Synthetic scenes take no crop: the check uses their image size and suggests larger images."""
    scenes = dict(num_samples=2, image_size=8, num_classes=2)
    train = SyntheticScenes("train", "segment", default_transform("synthetic", "train", "segment"), **scenes)
    val = SyntheticScenes("val", "segment", default_transform("synthetic", "val", "segment"), **scenes)
    cfg = RunConfig(arch="drn_c_26", dataset="synthetic", task="segment", crop_size=64, batch_size=1, device="cpu",
                    workers=0, progress=False, out_dir=str(tmp_path / "run"))
    with pytest.raises(ParameterError, match=r"drn_c_26 at a 8x8 crop reaches a 1x1 map .* at least 9 \(larger "
                                             r"images\)"):
        fit(cfg, train_set=train, val_set=val)
    assert not (tmp_path / "run").exists()


# --- values that are wrong in kind, not only in range -------------------------------------------------------------


@pytest.mark.parametrize("options, message", [
    (["--lr", "inf"], "lr must be a finite number"),
    (["--warmup-epochs", "inf"], "warmup_epochs must be a finite number"),
    (["--data-option", "image_size=abc"], "option image_size must be a whole number, got 'abc'"),
    (["--data-option", "num_classes=4.5"], "option num_classes must be a whole number"),
    (["--data-option", "colour=3"], "unknown option(s) colour"),
    (["--data-option", "num_samples=0"], "num_samples must be >= 1"),
])
def test_values_of_the_wrong_kind_are_one_line(tmp_path, capsys, options, message):
    code = main(["train", "--task", "classify", "--dataset", "synthetic", "--out-dir", str(tmp_path / "run"), *TINY,
                 *options])
    assert code == 2 and message in error_line(capsys)


def test_a_step_that_overflows_the_network_stops_the_run_though_its_loss_was_finite(tmp_path, capsys):
    """One step at a huge rate: the training loss was finite (it is computed before the step), the weights after it
    are finite too, and the network's outputs overflow. No such run is stored as finished."""
    code = main(["train", "--task", "classify", "--dataset", "synthetic", "--out-dir", str(tmp_path / "run"), *TINY,
                 "--lr", "1e38"])
    line = error_line(capsys)
    assert code == 2 and "the validation loss became nan after epoch 1" in line, line
    assert not (tmp_path / "run" / "result.json").exists() and not (tmp_path / "run" / "checkpoint.pt").exists()


def test_weights_that_are_no_longer_finite_stop_the_run():
    from drnlib.errors import TrainingError
    from drnlib.train.engine import _check_finite_weights

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    _check_finite_weights(model, 0, optimizer)  # finite: nothing to say
    model[1].running_var[0] = float("inf")  # a BatchNorm statistic counts as a weight
    with pytest.raises(TrainingError, match=r"weights became NaN or inf in epoch 1 .* no checkpoint was written"):
        _check_finite_weights(model, 0, optimizer)


def test_output_paths_that_cannot_be_written_are_one_line(checkpoints, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("kept")
    code = main(["train", "--task", "classify", "--dataset", "synthetic", "--out-dir", str(blocker / "run"), *TINY])
    assert code == 2 and str(blocker) in error_line(capsys) and blocker.read_text() == "kept"
    code = main(["evaluate", "--task", "classify", "--dataset", "synthetic", "--arch", "resnet_cifar_20",
                 "--checkpoint", str(checkpoints["classify"]), "--limit-val", "1", *FAST, "--output", str(tmp_path)])
    line = error_line(capsys)
    assert code == 2 and str(tmp_path) in line and ".tmp" not in line
