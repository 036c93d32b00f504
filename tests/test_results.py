"""Stored results with provenance (drnlib.results, drnlib.provenance), the papers' numbers (drnlib.paper) and how
pages show them (drnlib.display)."""

import datetime
import json
import math
import os
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from drnlib import display, paper, provenance, results
from drnlib.errors import DataError, ParameterError


@pytest.fixture
def book_root(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    monkeypatch.setenv(provenance.ROOT_ENV, str(tmp_path))
    return tmp_path


def test_records_name_the_runs_behind_them_and_where_they_were_trained(book_root):
    class Run:  # what save_results reads of drnlib.runs.Run
        def __init__(self, folder, result):
            self.dir, self.result = book_root / "runs" / "smoke" / folder, result

    trained_here = provenance.machine_provenance()
    new = Run("drn_c_26-x", {"device": "cuda", "torch": "2.11", "provenance": {**trained_here,
                                                                               "hardware": {"gpus": ["H100"]}}})
    old = Run("resnet18-x", {"device": "cpu", "torch": "2.14"})  # trained before runs recorded their provenance
    record = results.save_results("demo", "smoke", {"x": 1}, dataset="synthetic", runs={"a": new, "b": [old]})
    stored = results.load_results("demo", "smoke").provenance["runs"]
    assert [r["folder"] for r in stored] == ["drn_c_26-x", "resnet18-x"]
    assert stored[0]["gpus"] == ["H100"] and stored[0]["commit"] == trained_here["git"]["commit"]
    assert stored[1]["commit"] is None and stored[1]["device"] == "cpu"
    note = provenance.provenance_note(record.provenance)
    assert "trained in 2 run(s)" in note and "H100, cpu" in note and "date unrecorded" in note


def test_save_and_load_round_trip_with_provenance(book_root):
    table = pd.DataFrame({"top1": [30.5, float("nan")], "note": ["a", "b"]}, index=pd.Index(["resnet18", "drn_c_26"], name="arch"))
    record = results.save_results(
        "demo", "smoke",
        {"loss": torch.tensor(0.25), "count": np.int64(3), "curve": np.array([1.0, 2.0]), "bad": float("nan"),
         "nested": {"a": 1.5}},
        dataset="synthetic", tables={"errors": table}, params={"arch": "drn_c_26"},
    )
    assert record.path == book_root / "results" / "smoke" / "demo.json"
    loaded = results.load_results("demo", "smoke")
    assert loaded.values == {"loss": 0.25, "count": 3, "curve": [1.0, 2.0], "bad": None, "nested": {"a": 1.5}}
    assert loaded["loss"] == 0.25 and loaded.params == {"arch": "drn_c_26"}
    pd.testing.assert_frame_equal(loaded["errors"], table, check_dtype=False)
    assert loaded["errors"]["top1"].dtype == float
    p = loaded.provenance
    assert p["profile"] == "smoke" and p["dataset"] == "synthetic"
    assert p["hardware"]["cpu"] and isinstance(p["hardware"]["gpus"], list)
    assert p["torch"] == torch.__version__
    assert set(p["git"]) == {"commit", "dirty"}
    assert datetime.datetime.fromisoformat(p["date"]).tzinfo is not None
    note = provenance.provenance_note(loaded.provenance)
    assert "smoke profile" in note and "synthetic" in note and torch.__version__ in note
    with pytest.raises(KeyError, match="has no result 'nope'"):
        loaded["nope"]


def test_writes_are_atomic_and_leave_the_old_file_on_failure(book_root, monkeypatch):
    results.save_results("demo", "mini", {"x": 1}, dataset="d")
    path = book_root / "results" / "mini" / "demo.json"
    before = path.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        results.save_results("demo", "mini", {"x": 2}, dataset="d")
    monkeypatch.undo()
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == ["demo.json"]  # no temp file left behind
    with pytest.raises(ParameterError, match="cannot be stored as JSON"):
        results.save_results("demo", "mini", {"x": object()}, dataset="d")
    assert path.read_text() == before


def test_bad_names_profiles_and_files_are_one_line_errors(book_root):
    with pytest.raises(ParameterError, match="unknown profile 'huge'"):
        results.save_results("demo", "huge", {}, dataset="d")
    with pytest.raises(ParameterError, match="plain file stem"):
        results.results_path("../demo", "smoke")
    with pytest.raises(DataError, match="no mini results for demo"):
        results.load_results("demo", "mini")
    bad = book_root / "results" / "paper" / "demo.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(DataError, match="malformed results file"):
        results.load_results("demo", "paper")


def test_every_profile_of_a_page_side_by_side(book_root):
    results.save_results("page", "smoke", {"miou": 10.0, "curve": [1, 2], "per": {"a": 1}}, dataset="synthetic")
    results.save_results("page", "paper", {"miou": 68.0}, dataset="cityscapes")
    found = results.load_all_profiles("page")
    assert list(found) == ["smoke", "paper"]
    table = display.compare_profiles("page")
    assert list(table.columns) == ["smoke", "paper"]
    assert table.loc["miou", "smoke"] == 10.0 and table.loc["miou", "paper"] == 68.0
    assert "curve" not in table.index  # lists are not table cells
    assert table.loc["per_a", "smoke"] == 1 and pd.isna(table.loc["per_a", "paper"])
    assert table.loc["data set", "paper"] == "cityscapes"
    assert {"hardware", "torch", "commit", "date"} <= set(table.index)
    with pytest.raises(DataError, match="no results for other"):
        display.compare_profiles("other")


def test_root_is_found_from_book_subfolder(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("root: x\n")
    (tmp_path / "book").mkdir()
    monkeypatch.delenv(provenance.ROOT_ENV, raising=False)
    monkeypatch.chdir(tmp_path / "book")
    assert provenance.repo_root() == tmp_path


def _raw_published():
    return yaml.safe_load(resources.files("drnlib").joinpath("published.yaml").read_text())


def test_published_tables_match_the_yaml():
    raw = _raw_published()
    table1 = paper.published("drn", "table1_imagenet_error")
    block = raw["drn"]["table1_imagenet_error"]
    assert list(table1.columns) == block["columns"] and list(table1.index) == list(block["rows"])
    for arch, row in block["rows"].items():
        assert table1.loc[arch].tolist() == row
    assert "Table 1" in table1.attrs["source"]
    cityscapes = paper.published("drn", "table3_cityscapes_val_iou")
    city = raw["drn"]["table3_cityscapes_val_iou"]
    assert list(cityscapes.columns) == [*city["classes"], "miou"]
    assert cityscapes.loc["drn_c_42", "miou"] == city["rows"]["drn_c_42"]["miou"]
    assert cityscapes.loc["drn_c_42", "road"] == city["rows"]["drn_c_42"]["iou"][0]
    readme = paper.published("drn", "official_code_readme.imagenet_error_top1_top5")
    assert list(readme.columns) == ["top1_1crop", "top5_1crop"]
    params = paper.published("drn", "params_official_code")
    assert params.loc["drn_c_26", "params_official_code"] == raw["drn"]["params_official_code"]["drn_c_26"]
    wod = paper.published("wider_or_deeper", "table1_imagenet_error")
    assert wod.attrs["unconfirmed"] and wod.attrs["stated_relations"]


def test_every_table_with_rows_loads():
    for name_of_paper, tables in _raw_published().items():
        for name, block in tables.items():
            if isinstance(block, dict) and "rows" in block:
                frame = paper.published(name_of_paper, name)
                assert len(frame) == len(block["rows"]), (name_of_paper, name)


def test_published_refuses_unknown_names_with_suggestions():
    with pytest.raises(ParameterError, match="did you mean drn"):
        paper.published("dnr", "table1_imagenet_error")
    with pytest.raises(ParameterError, match="did you mean table1_imagenet_error"):
        paper.published("drn", "table1_imagenet_eror")
    with pytest.raises(ParameterError, match="single value"):
        paper.published("drn", "table1_imagenet_error.source")


def test_paper_vs_ours_puts_columns_side_by_side_with_a_delta(book_root):
    table = paper.published("drn", "table1_imagenet_error")
    ours = pd.DataFrame({"top1_1crop": [31.0, 40.0], "top5_1crop": [11.0, 12.0]}, index=["resnet18", "not_in_paper"])
    record = results.save_results("table1", "smoke", {}, dataset="tiny")
    styler = display.paper_vs_ours(table, ours, record)
    frame = styler.data
    assert list(frame.columns.get_level_values(0)) == ["top1_1crop"] * 3 + ["top5_1crop"] * 3
    assert list(frame.columns.get_level_values(1)) == ["paper", "ours", "Δ"] * 2
    assert frame.loc["resnet18", ("top1_1crop", "paper")] == table.loc["resnet18", "top1_1crop"]
    assert frame.loc["resnet18", ("top1_1crop", "Δ")] == pytest.approx(31.0 - table.loc["resnet18", "top1_1crop"])
    assert math.isnan(frame.loc["not_in_paper", ("top1_1crop", "paper")])
    html = styler.to_html()
    assert "smoke profile" in html and "tiny" in html and "Table 1" in html and 'class="dataframe"' in html
    with pytest.raises(ParameterError, match="share no column"):
        display.paper_vs_ours(table, pd.DataFrame({"miou": [1.0]}, index=["resnet18"]))


def _intervals(values: dict, half: float = 2.0) -> pd.DataFrame:
    return pd.DataFrame({"value": values, "low": {k: v - half for k, v in values.items()},
                         "high": {k: v + half for k, v in values.items()}})


def test_paper_vs_ours_figure_draws_a_panel_per_metric_and_a_row_per_network():
    import matplotlib

    matplotlib.use("Agg")
    ours = pd.concat({"top1": _intervals({"ResNet-18": 31.0, "DRN-C-26": 26.0}),
                      "top5": _intervals({"ResNet-18": 11.0, "DRN-C-26": 8.0})}, axis=1)
    theirs = pd.DataFrame({"top1": {"ResNet-18": 30.4, "DRN-C-26": math.nan, "Released": 20.0},
                           "top5": {"ResNet-18": 10.8, "DRN-C-26": 7.6, "Released": 5.0}, "params": {}})
    fig = display.paper_vs_ours_figure(theirs, ours, metric="error (%)", title="demo")
    axes = fig.get_axes()
    assert len(axes) == 2 and [ax.get_title() for ax in axes] == ["top1", "top5"]  # close numbers: one shared axis
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["ResNet-18", "DRN-C-26", "Released"]
    assert axes[0].get_yticklabels()[2].get_color() == "C3"  # a row only the paper has, in the paper's colour
    lines = {line.get_label(): line for line in axes[0].get_lines()}
    ours_line, paper_line = axes[0].get_lines()[0], lines["paper"]
    assert list(ours_line.get_xdata()) == [31.0, 26.0]
    assert np.allclose(paper_line.get_xdata(), [30.4, np.nan, 20.0], equal_nan=True)  # the lost cell stays empty
    assert "lower is better" in axes[0].get_xlabel() and fig._suptitle.get_text() == "demo"
    [legend] = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["ours (95% interval)", "paper"]


def test_paper_vs_ours_figure_gives_the_paper_its_own_axis_when_the_scales_are_far_apart():
    import matplotlib

    matplotlib.use("Agg")
    ours = _intervals({"ResNet-18": 97.0, "DRN-A-18": 95.0, "DRN-C-26": 93.0}, half=3.0)
    paper_errors = pd.Series({"ResNet-18": 30.4, "DRN-A-18": 28.0, "DRN-C-26": 24.9})
    fig = display.paper_vs_ours_figure(paper_errors, ours, metric="top-1 error (%)", title="Table 1")
    bottom, top = fig.get_axes()
    assert bottom.get_xlabel().startswith("ours:") and top.get_xlabel() == "paper: top-1 error (%)"
    assert top.get_xlim()[0] < 24.9 and top.get_xlim()[1] > 30.4 and bottom.get_xlim()[0] > 80
    assert "own scale" in fig._suptitle.get_text()
    assert len(display.paper_vs_ours_figure(paper_errors, ours, metric="x", paper_axis="shared").get_axes()) == 1
    # one number of the paper's beside ours: nothing to order on a scale of its own
    one = display.paper_vs_ours_figure(paper_errors.iloc[:1], ours, metric="x", paper_axis="own")
    assert len(one.get_axes()) == 1 and one._suptitle is None
    empty = display.paper_vs_ours_figure(pd.DataFrame(), ours, metric="x", lower_is_better=False)
    assert [t.get_text() for t in empty.legends[0].get_texts()] == ["ours (95% interval)"]
    assert "higher is better" in empty.get_axes()[0].get_xlabel()
    with pytest.raises(ParameterError, match="lacks high"):
        display.paper_vs_ours_figure(paper_errors, ours.drop(columns="high"), metric="x")
    with pytest.raises(ParameterError, match="none of ours' metrics"):
        display.paper_vs_ours_figure(pd.DataFrame({"miou": {"ResNet-18": 1.0}}),
                                     pd.concat({"top1": ours, "top5": ours}, axis=1), metric="x")
    with pytest.raises(ParameterError, match="paper_axis must be one of"):
        display.paper_vs_ours_figure(paper_errors, ours, metric="x", paper_axis="twin")


def test_claims_table_shows_each_verdict_with_the_papers_words(book_root):
    record = results.save_results("claims", "mini", {}, dataset="camvid")
    verdicts = [paper.exact("DRN-1", True, "11,689,512 vs 11,689,512"),
                paper.not_tested("DRN-9", "ResNet-34 not trained at this profile")]
    styler = display.claims_table(verdicts + [verdicts[0].as_dict()], record)  # objects or their stored dicts
    frame = styler.data
    assert list(frame["claim"]) == ["DRN-1", "DRN-9", "DRN-1"]
    assert list(frame["verdict"]) == ["✓ holds", "– not tested", "✓ holds"]
    assert frame.loc[0, "the paper says"] == paper.claims()["DRN-1"].claim
    assert frame.loc[1, "tested at"] == "ResNet-34 not trained at this profile"
    assert "camvid" in styler.to_html()
    with pytest.raises(ParameterError, match="unknown claim 'DRN-99'"):
        paper.exact("DRN-99", True, "x")


def test_glue_names_every_scalar_and_table(book_root, monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    monkeypatch.setattr(display, "_in_notebook", lambda: True)  # glue only runs in a kernel
    record = results.save_results("g", "smoke", {"a": 1.0, "nested": {"b": 2, "text": "x"}, "curve": [1, 2]},
                                  dataset="d", tables={"t": pd.DataFrame({"c": [1]})})
    names = display.glue_results(record)
    assert names == ["a", "nested_b", "nested_text", "t"]
    assert glued["nested_b"] == 2 and isinstance(glued["t"], pd.DataFrame)


def test_format_table_shows_missing_values_as_a_dash():
    html = display.format_table(pd.DataFrame({"x": [1.23456, float("nan")], "y": ["a", "b"]})).to_html()
    assert "1.235" in html and "–" in html and 'class="dataframe"' in html


def test_stored_results_files_are_plain_json(book_root):
    record = results.save_results("demo", "smoke", {"x": 1.0}, dataset="d")
    document = json.loads(record.path.read_text())
    assert document["schema"] == 1 and document["values"] == {"x": 1.0}


def test_figures_are_stored_atomically_and_shown_for_other_profiles(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from drnlib.display import show_stored_figures
    from drnlib.results import figure_path, save_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, "fig3", "mini", "cams", root=tmp_path)
    plt.close(fig)
    assert path == figure_path("fig3", "mini", "cams", root=tmp_path) and path.read_bytes()[:4] == b"\x89PNG"
    assert not list(path.parent.glob(".*"))  # no temporary left behind
    assert show_stored_figures("fig3", "cams", current="smoke", root=tmp_path) == ["mini"]
    assert show_stored_figures("fig3", "cams", current="mini", root=tmp_path) == []
    with pytest.raises(ParameterError):
        figure_path("fig3", "mini", "../x")


def test_results_computed_with_other_settings_are_marked_wherever_they_are_shown(book_root):
    from drnlib.params import PageParams

    p = PageParams("page", {"profile": "mini", "epochs": 1}, overrides={"epochs": 1})
    record = results.save_results("page", "mini", {"miou": 3.0}, dataset="camvid", params=p)
    assert results.load_results("page", "mini").provenance["overrides"] == {"epochs": 1}
    assert "NOT the profile's settings: epochs=1" in provenance.provenance_note(record.provenance)
    table = display.compare_profiles("page")
    assert table.loc["not the profile's settings", "mini"] == "epochs=1"
    own = results.save_results("page", "mini", {"miou": 3.0}, dataset="camvid",
                               params=PageParams("page", {"profile": "mini"}, overrides={}))
    assert "NOT the profile's settings" not in provenance.provenance_note(own.provenance)
