"""Every run of the book is data: one run of each recipe is trained from the command line, at the smoke profile,
and then the page that uses it finds it and runs without training anything ($DRNLIB_NO_TRAIN: a page that would
train stops; no checkpoint is rewritten)."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drnlib import recipes, runs
from drnlib.pages import checked, needed_runs
from drnlib.params import read_params
from drnlib.provenance import ROOT_ENV

REPO = Path(__file__).resolve().parents[1]

# The page that uses each smoke recipe, with its parameters cut to one or two runs (--set) where the page allows.
CASES = {
    "drn_classifier": ("table1", {"archs": ["resnet18", "drn_a_18"]}),
    "drn_segmentation": ("table3", {"arch": "drn_c_26"}),
    "cifar_resnet": ("wod_fig1", {}),
    "wod_classifier": ("wod_table1", {"archs": ["resnet50"]}),
    "wod_classifier_step": ("wod_table1", {"archs": ["resnet50"], "schedule_arch": "resnet50"}),
    "wod_segmentation": ("wod_table2", {}),  # the issue's case: wod_table2's runs, trained by the CLI, found
    "thin_objects": ("thin_objects", {}),
}


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    from test_book import copy_book  # the files a book build reads

    root = copy_book(tmp_path_factory.mktemp("book"))
    return root


def _cli(root: Path, command: str, env: dict) -> subprocess.CompletedProcess:
    words = shlex.split(command)
    assert words[:5] == ["torchrun", "--nproc_per_node", "8", "-m", "drnlib"]
    args = [sys.executable, "-m", "drnlib", *words[5:]]  # one process on this machine: plain python, not torchrun
    return subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=900)


def test_every_smoke_recipe_is_covered():
    assert set(CASES) == set(recipes.recipe_names("smoke"))


def test_each_recipe_trained_from_the_command_line_is_found_by_its_page(book):
    env = {**os.environ, ROOT_ENV: str(book), "OMP_NUM_THREADS": "1"}
    env.pop(runs.NO_TRAIN_ENV, None)
    os.environ[ROOT_ENV] = str(book)
    try:
        for recipe, (page, overrides) in CASES.items():
            p = checked(page, {**read_params(book, "smoke", page), **overrides}, book)
            specs = needed_runs(page, p)
            by_cli = next(spec for spec in specs if spec.recipe == recipe)
            trunk = runs.trunk(by_cli, "smoke", book)
            if trunk is not None:  # the command line refuses a run whose trunk is not trained: trunks first
                runs.get_all("smoke", [trunk], book)
            if runs.state("smoke", by_cli, book) != "done":  # this recipe's run: from the command line
                done = _cli(book, runs.command("smoke", by_cli), env)
                assert done.returncode == 0, done.stderr[-2000:]
                assert runs.state("smoke", by_cli, book) == "done", by_cli
            cli_folder = Path(runs.config("smoke", by_cli, book).out_dir).name
            runs.get_all("smoke", specs, book)  # the page's other runs, here (they are not this test's point)
            stamps = {p: p.stat().st_mtime_ns for p in (book / "runs" / "smoke").glob("*/checkpoint.pt")}
            sets = [arg for k, v in overrides.items() for arg in ("--set", f"{k}={json.dumps(v)}")]
            page_run = subprocess.run(
                [sys.executable, "-m", "drnlib.book", "--root", str(book), "--script", "--only", page, *sets],
                cwd=book, env={**env, runs.NO_TRAIN_ENV: "1"}, capture_output=True, text=True, timeout=900)
            log = book / "_build" / "scripts" / "smoke" / f"{page}.log"
            assert page_run.returncode == 0, (recipe, page, page_run.stderr[-1500:], log.read_text()[-3000:])
            after = {p: p.stat().st_mtime_ns for p in (book / "runs" / "smoke").glob("*/checkpoint.pt")}
            assert after == stamps, f"{page} trained or rewrote a run"  # the page trained nothing
            stored = json.loads((book / "results" / "smoke" / f"{page}.json").read_text())
            assert cli_folder in {r["folder"] for r in stored["provenance"].get("runs", [])}  # the page used it
    finally:
        os.environ.pop(ROOT_ENV, None)


def test_a_page_that_would_train_stops_with_the_commands(book):
    env = {**os.environ, ROOT_ENV: str(book), runs.NO_TRAIN_ENV: "1"}
    done = subprocess.run([sys.executable, "-m", "drnlib.book", "--root", str(book), "--script", "--only", "table1",
                           "--set", "archs=[drn_c_42]"], cwd=book, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 1
    assert "not trained yet ($DRNLIB_NO_TRAIN is set)" in done.stderr
    assert "--recipe drn_classifier --arch drn_c_42" in done.stderr
    assert yaml.safe_load((book / "params" / "smoke" / "table1.yaml").read_text())["archs"] != ["drn_c_42"]
