"""A page's parameters (drnlib.params, drnlib.pages.start): declared types, strings from `papermill -p` parsed or
refused in one line, the pages' rules, and the values that differ from the profile's params file."""

import re

import pytest

from drnlib import params, pages
from drnlib.errors import ParameterError
from drnlib.params import PageParams, between, coerce, models, multiple_of, numbers, one_of, page_parameters
from drnlib.provenance import PROFILES, ROOT_ENV, repo_root


@pytest.mark.parametrize("kind, given, expected", [
    ("bool", "false", False), ("bool", "True", True), ("bool", " yes ", True), ("bool", "0", False),
    ("bool", False, False), ("int", "3", 3), ("int", 7, 7), ("float", "0.5", 0.5), ("float", 2, 2.0),
    ("str", "drn_c_26", "drn_c_26"), ("str", 1, "1"), ("list", "a, b,", ["a", "b"]), ("list", ["x"], ["x"]),
])
def test_declared_types_take_their_own_values_and_the_strings_that_spell_them(kind, given, expected):
    value = coerce("x", given, kind)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("kind, given, expected", [
    ("bool", "maybe", "a bool"), ("bool", 1, "a bool"), ("int", "3.5", "an int"), ("int", True, "an int"),
    ("float", "fast", "a finite float"), ("float", "nan", "a finite float"), ("float", float("inf"), "a finite float"),
    ("str", ["a"], "a str"), ("list", 3, "a list"),
])
def test_anything_else_is_refused_naming_the_parameter_the_value_and_the_type(kind, given, expected):
    with pytest.raises(ParameterError, match=re.escape(f"parameter flag={given!r}: expected {expected}")):
        coerce("flag", given, kind)


def test_rules_check_choices_ranges_lists_and_model_names():
    assert one_of("a", "b")("x", "a") == "a"
    with pytest.raises(ParameterError, match="parameter x: unknown value 'c'; choose from a, b"):
        one_of("a", "b")("x", "c")
    with pytest.raises(ParameterError, match=r"parameter n=0: must be between 1 and 5"):
        between(1, 5)("n", 0)
    assert multiple_of(32, 32, 512)("s", 224) == 224
    with pytest.raises(ParameterError, match="must be a multiple of 32"):
        multiple_of(32)("s", 100)
    assert numbers(float, 0, 4)("scales", "0.5,1") == [0.5, 1.0]
    with pytest.raises(ParameterError, match="comma-separated float"):
        numbers(float)("scales", "a,b")
    assert models()("archs", ["ResNet-18", "DRN-C-26", "drn_c_26"]) == ["resnet18", "drn_c_26"]
    with pytest.raises(ParameterError, match="unknown value 'drn_c_62'; did you mean .*drn_c_26"):
        models()("archs", "drn_c_62")


def test_a_page_call_checks_everything_and_writes_the_checked_values_back(monkeypatch, tmp_path):
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    (tmp_path / "params" / "mini").mkdir(parents=True)
    (tmp_path / "params" / "mini" / "demo.yaml").write_text("profile: mini\nflip: true\nsize: 64\n")
    namespace = {"__annotations__": {"profile": str, "flip": bool, "size": int},
                 "profile": "mini", "flip": "false", "size": "64"}  # as papermill -p injects them
    p = page_parameters("demo", namespace, size=between(8, 128))
    assert namespace["flip"] is False and namespace["size"] == 64 and p.flip is False and p["size"] == 64
    assert p.overrides == {"flip": False}  # differs from params/mini/demo.yaml: recorded with the results
    assert isinstance(p, PageParams) and p.as_dict() == {"profile": "mini", "flip": False, "size": 64}
    with pytest.raises(ParameterError, match="parameter size=256: must be between 8 and 128"):
        page_parameters("demo", {**namespace, "size": 256}, size=between(8, 128))
    with pytest.raises(ParameterError, match="unknown profile 'huge'"):
        page_parameters("demo", {**namespace, "profile": "huge"})


def _declared(page):
    return params.notebook_parameters(repo_root() / "book" / f"{page}.py")


def test_every_bool_parameter_of_every_page_parses_false_and_refuses_nonsense(monkeypatch):
    monkeypatch.setenv(ROOT_ENV, str(repo_root()))
    checked = 0
    for page in pages.toc_page_names():
        for name, info in _declared(page).items():
            if info["type"] != "bool":
                continue
            for text, value in (("false", False), ("true", True), ("False", False)):
                assert getattr(pages.checked(page, {name: text}), name) is value, (page, name, text)
            with pytest.raises(ParameterError, match=f"parameter {name}='maybe': expected a bool"):
                pages.checked(page, {name: "maybe"})
            checked += 1
    assert checked >= 1


def test_every_page_declares_only_plain_types_and_its_params_files_pass_its_checks(monkeypatch):
    monkeypatch.setenv(ROOT_ENV, str(repo_root()))
    for page in pages.toc_page_names():
        declared = _declared(page)
        assert declared["profile"]["type"] == "str"
        for profile in PROFILES:
            p = pages.checked(page, params.read_params(repo_root(), profile, page))
            assert p.profile == profile and not p.overrides, (page, profile, p.overrides)
        smoke = params.read_params(repo_root(), "smoke", page)
        defaults = {name: info["default"] for name, info in declared.items()}
        assert all(defaults[k] == v for k, v in smoke.items()), page  # the cell's defaults are the smoke values


def test_nan_and_non_numbers_pass_no_range_and_model_lists_hold_names():
    for bad in (float("nan"), [1.0, float("nan")], "x"):
        with pytest.raises(ParameterError, match="must be a finite number"):
            between(0, 1)("cutoff", bad)
    with pytest.raises(ParameterError, match="must be a finite number"):
        numbers(float, 0, 4)("scales", "1,nan")
    with pytest.raises(ParameterError, match="expected architecture names"):
        models()("archs", [1, 2])


def test_a_value_papermill_injects_under_an_unknown_name_stops_the_page(monkeypatch):
    """`papermill book/fig3.ipynb out.ipynb -p nosuch 3` only warns; the page's first call refuses it."""
    monkeypatch.delenv(ROOT_ENV, raising=False)
    declared = _declared("fig3")
    namespace = {name: info["default"] for name, info in declared.items()}
    namespace["__annotations__"] = {name: info["type"] for name, info in declared.items()}
    import drnlib.display

    monkeypatch.setattr(drnlib.display, "profiles_note", lambda *a, **k: None)  # the page's note: not under test
    history = ["", "profile: str = 'smoke'", "# Parameters\nprofile = 'smoke'\nnum_images = 2\n"]
    pages.start("fig3", {**namespace, "In": history, "scratch": 1})  # a reader's own names are not looked at
    history.append("# Parameters\nPAPERMILL_INPUT_PATH = 'in.ipynb'\n")  # papermill --inject-paths: not ours
    pages.start("fig3", {**namespace, "In": history})
    history.append("# Parameters\nnosuch = 3\n")  # as papermill injects `-p nosuch 3`
    with pytest.raises(ParameterError, match=r"fig3 has no parameter\(s\) nosuch; its parameters: profile"):
        pages.start("fig3", {**namespace, "In": history, "nosuch": 3})
