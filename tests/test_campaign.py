"""The mini profile as GPU work units (drnlib.campaign): status and its estimates, the CUDA self-check, the CPU
rehearsal of every unit (dry run: script-mode pages, bundles, import) and the import's refusals."""

import json
import tarfile

import pytest
import yaml

from drnlib import campaign
from drnlib.errors import ParameterError
from drnlib.provenance import ROOT_ENV, repo_root
from drnlib.results import load_results


def test_status_sizes_every_unit_and_all_of_them_fit_four_leases(capsys):
    frame = campaign.status_frame("mini")
    units = campaign.load_units("mini")
    assert list(frame["unit"]) == list(units)
    pages = [page for unit in units.values() for page in unit.pages]
    from drnlib.pages import toc_page_names
    # the architecture pages train nothing, and the claims page gathers every profile's results wherever it runs
    assert sorted(pages) == sorted(p for p in toc_page_names() if p not in ("zoo", "fig1_fig5", "claims"))
    assert frame["minutes"].sum() <= 45, frame[["unit", "minutes"]]
    assert (frame["minutes"] <= campaign.UNIT_LIMIT_MINUTES).all(), frame[["unit", "minutes"]]
    plan = campaign.lease_plan("mini")
    assert len(plan) <= 4 and sorted(n for lease in plan for n in lease) == sorted(
        frame.loc[frame["state"] == "pending", "unit"])
    for lease in plan:  # a unit runs after the units it needs, in the same lease
        for name in lease:
            assert all(lease.index(need) < lease.index(name) for need in units[name].needs)
    assert campaign.main(["status", "--profile", "mini"]) == 0
    out = capsys.readouterr().out
    assert "minutes in all" in out and "lease 1:" in out and "--carry" not in out and ".device-data" in out


def test_the_cuda_self_check_says_no_cuda_in_one_line_and_its_paths_run_on_the_cpu(capsys, monkeypatch):
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(campaign.SelfCheckFailed, match="^no CUDA: torch sees no GPU here"):
            campaign.self_check("cuda")
        assert campaign.main(["run", "--units", "drn_classification", "--budget", "60", "--out", "/tmp/x"]) == 2
        assert capsys.readouterr().err.strip().startswith("error: no CUDA")
    lines = campaign.self_check("cpu", compile=False)  # the same code on the CPU: bf16 autocast, channels_last
    assert len(lines) >= 8 and any("fit step" in line for line in lines)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    """`campaign run --dry-run` of every unit, with its bundles."""
    out = tmp_path_factory.mktemp("bundles")
    code = campaign.main(["run", "--profile", "mini", "--units", "all", "--budget", "900", "--out", str(out),
                          "--dry-run"])
    return code, out


def test_a_dry_run_takes_every_unit_through_pages_bundles_and_import(rehearsal):
    code, out = rehearsal
    assert code == 0
    units = campaign.load_units("mini")
    for name, unit in units.items():
        bundle = out / f"{name}.tar.gz"
        assert bundle.is_file(), name
        with tarfile.open(bundle) as tar:
            names = tar.getnames()
            record = json.loads(tar.extractfile("campaign.json").read())
        assert record["dry_run"] and record["recipes"]["drn_classifier"]["epochs"] == 1
        assert [p["page"] for p in record["pages"]] == unit.pages
        assert all(p["state"] == "ok" for p in record["pages"]), record["pages"]
        for page in unit.pages:
            assert f"results/{page}.json" in names and f"logs/{page}.log" in names
        assert not unit.pages or any(n.startswith("runs/") and n.endswith("result.json") for n in names) \
            or name in ("wod_segmentation",)
    assert (out / "throughput.json").is_file()  # how long it takes is measured, not asserted (DEVELOPERS.md)


def test_import_merges_a_bundle_and_refuses_other_recipes_naming_the_difference(rehearsal, tmp_path, monkeypatch):
    _, out = rehearsal
    root = campaign._book_copy(tmp_path / "book")
    monkeypatch.setenv(ROOT_ENV, str(root))
    bundle = out / "drn_segmentation.tar.gz"
    with pytest.raises(ParameterError, match=r"other recipes than params/mini/recipes.yaml: .*epochs: bundle 1"):
        campaign.import_bundles([bundle], "mini", root)  # the dry run shrank the recipes
    assert not (root / "results").exists()  # nothing written
    # as if the bundle had been trained with the checkout's recipes
    with tarfile.open(bundle) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    record = json.loads(members["campaign.json"])
    record.update(recipes=campaign.recipes_fingerprint("mini", root), dry_run=False)
    members["campaign.json"] = json.dumps(record).encode()
    honest = tmp_path / "honest.tar.gz"
    with tarfile.open(honest, "w:gz") as tar:
        for name, data in members.items():
            import io
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    done = campaign.import_bundles([honest], "mini", root)
    assert done[0]["pages"] == ["table3", "fig8"]
    stored = load_results("table3", "mini", root)
    assert stored.provenance["overrides"]  # computed with shrunk recipes: shown as not the profile's own
    assert list((root / "results" / "mini" / "runs").glob("*/result.json"))
    minutes = yaml.safe_load((root / "params" / "mini" / "unit_minutes.yaml").read_text())
    assert minutes["drn_segmentation"]["minutes"] > 0
    assert campaign.estimate_minutes(campaign.load_units("mini", root)["drn_segmentation"], "mini",
                                     root)["source"] == "measured"
    # the smoke book shows the imported mini results beside its own, marked, with no mini run on disk
    from drnlib.display import compare_profiles, show_stored_figures

    assert not (root / "runs" / "mini").exists()
    shown = compare_profiles("table3", root=root)
    assert "mini" in shown.columns and shown.loc["not the profile's settings", "mini"]
    assert "mini" in show_stored_figures("table3", "paper_vs_ours", current="smoke", root=root)
    with pytest.raises(ParameterError, match="a bundle of profile 'mini', not 'paper'"):
        campaign.import_bundles([honest], "paper", root)
    with pytest.raises(ParameterError, match="not a campaign bundle"):
        campaign.import_bundles([tmp_path / "honest.tar.gz.missing"], "mini", root)


def test_the_checkouts_mini_results_come_from_the_gpu_and_carry_their_provenance():
    folder = repo_root() / "results" / "mini"
    for path in sorted(folder.glob("*.json")):
        record = load_results(path.stem, "mini")
        assert record.provenance["hardware"]["gpus"], path  # mini results are GPU results, never a CPU's
        assert record.provenance["git"]["commit"] and record.provenance["date"]


def _bundle(path, record, members=None):
    """A bundle as `run` writes one: campaign.json and `members` ({name: bytes})."""
    import io

    with tarfile.open(path, "w:gz") as tar:
        for name, data in {"campaign.json": json.dumps(record).encode(), **(members or {})}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("change, members, message", [
    ({"unit": "../../../../escaped"}, {}, "unit '../../../../escaped' is not one of"),
    ({"unit": "/tmp/absolute"}, {}, "is not one of"),
    ({"seconds": None}, {"results/table3.json": b"{}"}, "needs its seconds and its estimate"),
    ({"pages": [{"page": "table3"}]}, {"results/table3.json": b"{}"}, "pages are not a list"),
    ({"provenance": "x"}, {}, "provenance or recipes are not objects"),
    ({}, {"results": b"x"}, "unexpected member 'results'"),
    ({}, {"elsewhere/x.json": b"x"}, "unexpected member 'elsewhere/x.json'"),
    ({}, {"results/../../x.json": b"x"}, "unexpected member"),
    ({}, {"results/campaigns/other.json": b"x"}, "unexpected member"),  # another unit's record
    ({"unit": ["drn_segmentation"]}, {}, "is not one of"),
    ({"recipes": {"drn_classifier": 3}}, {}, "provenance or recipes are not objects"),
    ({"provenance": {"git": "abc"}}, {}, "provenance or recipes are not objects"),
    ({"seconds": 7e5}, {}, "needs its seconds"),
])
def test_import_refuses_a_tampered_bundle_before_writing_anything(tmp_path, monkeypatch, change, members, message):
    root = campaign._book_copy(tmp_path / "book")
    monkeypatch.setenv(ROOT_ENV, str(root))
    record = {"unit": "drn_segmentation", "profile": "mini", "state": "ran", "seconds": 60.0,
              "estimate": {"estimated": 5.0}, "pages": [{"page": "table3", "state": "ok"}], "provenance": {},
              "recipes": campaign.recipes_fingerprint("mini", root), **change}
    bundle = _bundle(tmp_path / "tampered.tar.gz", record, members)
    before = sorted(p for p in tmp_path.rglob("*") if p != bundle)
    with pytest.raises(ParameterError, match=message):
        campaign.import_bundles([bundle], "mini", root)
    assert sorted(p for p in tmp_path.rglob("*") if p != bundle) == before  # nothing written, in or out of the book
    assert campaign.main(["import", str(bundle)]) == 2


def test_import_refuses_a_record_that_is_not_an_object_and_a_bundle_cut_short(tmp_path, monkeypatch):
    root = campaign._book_copy(tmp_path / "book")
    monkeypatch.setenv(ROOT_ENV, str(root))
    with pytest.raises(ParameterError, match="campaign.json is not an object"):
        campaign.import_bundles([_bundle(tmp_path / "list.tar.gz", [1, 2])], "mini", root)
    whole = _bundle(tmp_path / "whole.tar.gz", {"unit": "speed"}, {f"results/f{i}.json": bytes(range(256)) * 64
                                                                   for i in range(8)})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # an interrupted copy
    with pytest.raises(ParameterError, match="not a campaign bundle"):
        campaign.import_bundles([cut], "mini", root)


@pytest.mark.parametrize("text, message", [
    ("x: [", r"malformed work units file .*line 1"),
    ("- a\n", "must be a mapping"),
    ("a: {about: x, pages: [table3], needs: [a]}\n", r"unit a needs itself \(a -> a\)"),
    ("a: {about: x, pages: table3}\n", "pages must be a list of names"),
    ("a: {about: x, pages: [table3], data: tiny_imagenet}\n", "data must be a list of names"),
])
def test_a_broken_units_file_is_one_line(tmp_path, monkeypatch, capsys, text, message):
    root = campaign._book_copy(tmp_path / "book")
    monkeypatch.setenv(ROOT_ENV, str(root))
    (root / "params" / "mini" / "units.yaml").write_text(text)
    with pytest.raises(ParameterError, match=message):
        campaign.load_units("mini", root)
    assert campaign.main(["status", "--profile", "mini"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("text", ["x: [", "x: 5\n", "x: {minutes: abc}\n"])
def test_a_broken_measured_minutes_file_is_one_line_naming_it(tmp_path, monkeypatch, text):
    root = campaign._book_copy(tmp_path / "book")
    monkeypatch.setenv(ROOT_ENV, str(root))
    campaign.measured_path("mini", root).write_text(text)
    with pytest.raises(ParameterError, match="unit_minutes.yaml"):
        campaign.measured_minutes("mini", root)


def test_run_refuses_a_bad_budget_and_a_cpu_even_without_the_self_check(tmp_path, capsys):
    assert campaign.main(["run", "--units", "speed", "--budget", "nan", "--out", str(tmp_path)]) == 2
    assert "--budget must be a positive number" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        assert campaign.main(["run", "--units", "speed", "--budget", "60", "--out", str(tmp_path),
                              "--skip-self-check"]) == 2
        assert "no CUDA" in capsys.readouterr().err
