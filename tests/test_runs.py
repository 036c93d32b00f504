"""Runs of the book as data: recipes (drnlib.recipes), found / resumed / trained once (drnlib.runs), keys, trunks,
the one evaluation cache, and the commands that train them."""

import json
import shlex

import pytest
import yaml

from drnlib import recipes, runs
from drnlib.cli import build_parser
from drnlib.cli import main as cli_main
from drnlib.errors import DataError, ParameterError
from drnlib.provenance import PROFILES, ROOT_ENV

SCENES = {"image_size": 32, "num_classes": 4, "num_samples": 48}
TINY = {"dataset": "synthetic", "task": "classify", "crop_size": 32, "epochs": 1, "batch_size": 8, "lr": 0.05,
        "limit_train": 32, "limit_val": 16, "holdout": 8, "data_options": SCENES, "workers": 0, "device": "cpu",
        "progress": False}


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A book root with a smoke recipes file: `tiny`, `tiny_lr` (another lr), `tuned` (starts from `tiny`)."""
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    folder = tmp_path / "params" / "smoke"
    folder.mkdir(parents=True)
    (folder / "recipes.yaml").write_text(yaml.safe_dump({
        "tiny": {"about": "a classifier of generated scenes", **TINY},
        "tiny_lr": {"base": "tiny", "lr": 0.01},
        "tuned": {"base": "tiny", "init": "tiny", "lr": 0.02},
    }))
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    monkeypatch.delenv(runs.NO_TRAIN_ENV, raising=False)
    monkeypatch.delenv(recipes.OVERRIDES_ENV, raising=False)
    return tmp_path


def test_a_run_is_trained_once_and_then_found(book):
    spec = runs.RunSpec("tiny", "resnet_cifar_20")
    assert runs.state("smoke", spec) == "missing" and runs.find("smoke", spec) is None
    first = runs.get("smoke", spec)
    assert runs.state("smoke", spec) == "done" and first.dir.parent == book / "runs" / "smoke"
    checkpoint = first.dir / "checkpoint.pt"
    stamp = checkpoint.stat().st_mtime_ns
    again = runs.get("smoke", runs.RunSpec("tiny", "resnet_cifar_20", workers=1))  # workers: not in the key
    assert again.dir == first.dir and checkpoint.stat().st_mtime_ns == stamp and again.result == first.result
    assert first.result["recipe"] == "tiny" and set(first.result["provenance"]) >= {"hardware", "git", "date"}
    other = runs.get("smoke", runs.RunSpec("tiny_lr", "resnet_cifar_20"))  # another recipe value: another run
    assert other.dir != first.dir and len(first.metrics()) == 1
    assert runs.get_all("smoke", [spec])[spec].dir == first.dir


def test_two_recipes_with_the_same_settings_share_their_runs(book, monkeypatch):
    monkeypatch.setenv(recipes.OVERRIDES_ENV, json.dumps({"tiny_lr": {"lr": 0.05}}))
    same = [runs.config("smoke", runs.RunSpec(name, "resnet_cifar_20")).out_dir for name in ("tiny", "tiny_lr")]
    assert same[0] == same[1]  # the recipe's name is not part of a run's identity


def test_no_train_and_the_paper_profile_stop_with_the_commands(book, monkeypatch):
    monkeypatch.setenv(runs.NO_TRAIN_ENV, "1")
    with pytest.raises(ParameterError, match=r"2 run\(s\) not trained yet .*--recipe tiny --arch resnet18 "
                                             r"--resume && .*--recipe tuned --arch resnet18"):
        runs.get("smoke", runs.RunSpec("tuned", "resnet18"))  # the trunk first
    assert not (book / "runs").exists()


def test_a_tuned_run_starts_from_its_trunk_and_its_key_follows_the_trunk(book, monkeypatch):
    tuned = runs.get("smoke", runs.RunSpec("tuned", "resnet_cifar_20"))  # trains `tiny` first
    trunk = runs.find("smoke", runs.RunSpec("tiny", "resnet_cifar_20"))
    assert trunk is not None and tuned.config.init_run == trunk.dir.name
    assert tuned.result["config"]["init_run"] == trunk.dir.name
    # a retrained trunk (another recipe value) gives the tuned run another folder
    monkeypatch.setenv(recipes.OVERRIDES_ENV, json.dumps({"tiny": {"seed": 5}}))
    moved = runs.config("smoke", runs.RunSpec("tuned", "resnet_cifar_20"))
    assert moved.init_run != trunk.dir.name and moved.out_dir != str(tuned.dir)


def test_the_evaluation_cache_and_model_averaging(book, monkeypatch):
    a = runs.get("smoke", runs.RunSpec("tiny", "resnet_cifar_20"))
    b = runs.get("smoke", runs.RunSpec("tiny_lr", "resnet_cifar_20"))
    scores = runs.evaluate(a, task="localize", loc_threshold=0.2)
    assert scores["per_image"]["loc_top1_wrong"] and len(scores["per_image"]["top1_wrong"]) == scores["images"]
    assert len(list(a.dir.glob("eval-*.json"))) == 1
    calls = []
    monkeypatch.setattr(runs, "evaluate_run", lambda *args, **kw: calls.append(args))
    assert runs.evaluate(a, task="localize", loc_threshold=0.2, workers=1) == scores  # cached; speed: no key
    assert a.evaluate(task="localize", loc_threshold=0.2) == scores and not calls
    monkeypatch.undo()
    averaged = runs.evaluate([a, b], ten_crop=True)
    single = runs.evaluate(a, ten_crop=True)
    assert averaged["runs"] == [a.dir.name, b.dir.name] and averaged["averaged_with"]
    assert list((a.dir.parent / "evaluations").glob("*.json"))
    assert averaged["images"] == single["images"] == 16
    with pytest.raises(ParameterError, match="unknown evaluation setting"):
        runs.evaluate(a, lr=0.1)


def test_a_run_found_with_another_evaluation_protocol_is_scored_with_the_one_asked_for(book, monkeypatch):
    spec = runs.RunSpec("tiny", "resnet_cifar_20")
    first = runs.get("smoke", spec)  # validated on 16 images
    monkeypatch.setenv(recipes.OVERRIDES_ENV, json.dumps({"limit_val": 8}))
    fewer = runs.get("smoke", spec)  # the same weights (limit_val is not in the key) ...
    assert fewer.dir == first.dir and first.result["val_images"] == 16
    assert fewer.result["val"]["images"] == fewer.result["val_images"] == 8  # ... scored on the 8 asked for


def test_an_interrupted_run_resumes(book, monkeypatch):
    spec = runs.RunSpec("tiny", "resnet_cifar_20", epochs=2)
    cfg = runs.config("smoke", spec)
    from drnlib.train import fit
    fit(cfg.replace(epochs=1))  # as if the build had stopped after epoch 1 (epochs is in the key: same folder)
    assert runs.state("smoke", spec) == "partial"
    run = runs.get("smoke", spec)
    assert run.result["epochs"] == 2 and len(run.metrics()) == 2


def test_the_cli_trains_the_run_a_page_finds(book, capsys):
    assert cli_main(["train", "--profile", "smoke", "--recipe", "tiny", "--arch", "resnet_cifar_20"]) == 0
    found = runs.find("smoke", runs.RunSpec("tiny", "resnet_cifar_20"))
    assert found is not None and f"run directory: {found.dir}" in capsys.readouterr().out
    assert cli_main(["train", "--profile", "smoke", "--recipe", "tuned", "--arch", "resnet18"]) == 2
    assert "resnet18 starts from tiny:resnet18, which is not trained" in capsys.readouterr().err
    assert cli_main(["train", "--recipe", "tiny", "--arch", "resnet18"]) == 2  # a recipe needs its profile
    assert "--profile, --recipe and --arch together" in capsys.readouterr().err
    assert cli_main(["train", "--profile", "smoke", "--recipe", "tiy", "--arch", "resnet18"]) == 2
    assert "no recipe 'tiy'; did you mean tiny" in capsys.readouterr().err


def test_keys_ignore_speed_output_and_names():
    base = runs.RunConfig(arch="resnet18", dataset="camvid")
    same = base.replace(workers=3, device="cuda", out_dir="elsewhere", amp=False, recipe="x", progress=False)
    assert runs.folder_name(base) == runs.folder_name(same)
    assert runs.folder_name(base) != runs.folder_name(base.replace(seed=1))
    assert runs.folder_name(base) != runs.folder_name(base.replace(head="2conv"))


def _specs(profile):
    """One run of every recipe of a profile, and the runs built from another recipe's trunk."""
    out = []
    for name in recipes.recipe_names(profile):
        fields = recipes.recipe(profile, name)
        arch = "resnet_cifar_20" if fields.get("dataset") == "cifar10" else "model_a1" \
            if fields.get("task") == "segment" and fields.get("init") == "wod_classifier" else "drn_c_26"
        out.append(runs.RunSpec(name, arch))
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_changing_one_recipe_value_changes_the_runs_of_that_recipe_and_no_other(profile, tmp_path, monkeypatch):
    """Edit one value of one recipe in a copy of the profile's recipes file: exactly the runs built from that recipe
    (directly, through `base`, or from a trunk trained with it) get new keys."""
    specs = _specs(profile)
    before = {s: runs.config(profile, s).out_dir.rsplit("/", 1)[1] for s in specs}
    raw = yaml.safe_load(recipes.recipes_path(profile).read_text())
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "params" / profile).mkdir(parents=True)
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    for changed in raw:
        edited = {name: dict(fields) for name, fields in raw.items()}
        edited[changed]["seed"] = 123
        (tmp_path / "params" / profile / "recipes.yaml").write_text(yaml.safe_dump(edited))
        after = {s: runs.config(profile, s).out_dir.rsplit("/", 1)[1] for s in specs}

        def built_from(spec, name=changed):
            chain = [spec.recipe]
            while raw[chain[-1]].get("base"):
                chain.append(raw[chain[-1]]["base"])
            seeded_below = any("seed" in raw[r] for r in chain[:chain.index(name)]) if name in chain else True
            trunk = runs.trunk(spec, profile)
            return (name in chain and not seeded_below) or (trunk is not None and built_from(trunk, name))

        for spec in specs:
            assert (after[spec] != before[spec]) == built_from(spec), (changed, spec)


def test_every_recipe_of_every_profile_builds_its_runs():
    for profile in PROFILES:
        for spec in _specs(profile):
            cfg = runs.config(profile, spec)
            assert cfg.recipe == spec.recipe and cfg.out_dir.endswith(runs.folder_name(cfg))
            assert runs.step_flops(cfg) > 0


def test_every_command_the_paper_profile_prints_is_accepted_by_the_cli():
    from drnlib.pages import profile_runs

    frame = profile_runs("paper")
    assert len(frame) > 10 and (frame["state"] == "missing").all()
    parser = build_parser()
    for command in frame["command"]:
        words = shlex.split(command)
        assert words[:5] == ["torchrun", "--nproc_per_node", "8", "-m", "drnlib"]
        args = parser.parse_args(words[5:])  # argparse exits on a refused command
        spec = runs.RunSpec(args.recipe, args.arch)
        assert args.profile == "paper" and spec.recipe in recipes.recipe_names("paper")
    assert frame["GFLOPs"].min() > 0


def test_a_damaged_result_is_one_line_naming_it_and_a_damaged_evaluation_is_computed_again(book, capsys):
    spec = runs.RunSpec("tiny", "resnet_cifar_20")
    run = runs.get("smoke", spec)
    scores = runs.evaluate(run, task="localize", loc_threshold=0.2)
    cache = next(run.dir.glob("eval-*.json"))
    cache.write_text("garbage{")
    assert runs.evaluate(run, task="localize", loc_threshold=0.2) == scores  # a cache: computed again
    result = run.dir / "result.json"
    for damage in ('{"epochs": 1, "val', "[1, 2]"):
        result.write_text(damage)
        with pytest.raises(DataError, match=f"unreadable run result {result}|run result {result} holds a JSON list"):
            runs.find("smoke", spec)
        assert cli_main(["train", "--profile", "smoke", "--recipe", "tiny", "--arch", "resnet_cifar_20",
                         "--resume"]) == 0  # fit writes it again from the checkpoint
        assert json.loads(result.read_text())["epochs"] == 1


def test_recipes_refuse_init_cycles_typed_values_and_unknown_overrides(book, monkeypatch):
    path = book / "params" / "smoke" / "recipes.yaml"
    original = yaml.safe_load(path.read_text())
    for change, message in [
        ({"tiny": {**original["tiny"], "init": "tuned"}}, r"starts from itself \(tiny -> tuned -> tiny\)"),
        ({"tiny_lr": {"base": "tiny", "epochs": "ten"}}, "epochs must be a whole number, got 'ten'"),
        ({"tiny_lr": {"base": "tiny", "epochs": 1.5}}, "epochs must be a whole number, got 1.5"),
        ({"tiny_lr": {"base": "tiny", "crop_scale": "abc"}}, "crop_scale must be a positive number"),
        ({"tiny_lr": {"base": "tiny", "data_options": [1, 2]}}, "data_options must be a mapping"),
    ]:
        path.write_text(yaml.safe_dump({**original, **change}))
        with pytest.raises(ParameterError, match=message):
            runs.config("smoke", runs.RunSpec("tiny_lr", "resnet_cifar_20"))
    path.write_text(yaml.safe_dump({**original, "tiny_lr": {"base": "tiny", "lr": "1e-3"}}))
    assert runs.config("smoke", runs.RunSpec("tiny_lr", "resnet_cifar_20")).lr == 0.001  # YAML 1.1 reads 1e-3 as text
    path.write_text(yaml.safe_dump(original))
    monkeypatch.setenv(recipes.OVERRIDES_ENV, json.dumps({"epoch": 2}))
    with pytest.raises(ParameterError, match="names epoch: neither a run setting nor a recipe.*did you mean epochs"):
        recipes.load("smoke")
    monkeypatch.setenv(recipes.OVERRIDES_ENV, json.dumps({"epochs": "ten"}))
    with pytest.raises(ParameterError, match="epochs must be a whole number"):
        runs.config("smoke", runs.RunSpec("tiny", "resnet_cifar_20"))
