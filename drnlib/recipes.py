"""Named training recipes, written once per profile in params/<profile>/recipes.yaml.

A recipe is a set of drnlib.train.RunConfig fields (every field it does not give keeps RunConfig's default); a run
of the book is a recipe, an architecture and, rarely, a few options of its own (a WoD row's segmentation head):

    recipe_names("mini")                             # ["drn_classifier", "drn_segmentation", ...]
    config("mini", "drn_classifier", "drn_c_26")     # the RunConfig (out_dir not set: drnlib.runs places runs)
    config("mini", "thin_objects", "resnet18", data_options={"thinness": 4})  # the recipe's data options, one changed
    recipe("paper", "wod_segmentation")              # the recipe's fields, `base` resolved
    describe("mini", "drn_classifier")               # one line for a page: what the networks were trained with
    differences("mini", "paper", "drn_classifier")   # {field: (mini value, paper value)}: how mini differs

Keys of a recipe beyond RunConfig's fields:
    about        one sentence: what the recipe is for (shown on the pages)
    base         another recipe of the same file whose fields this one starts from
    init         the recipe whose run (same architecture, or the one it is tuned from: TUNED_FROM) initialises
                 this run's trunk (WoD: segmentation nets start from their classifiers)
    crop_scale   the training crop is the network's design crop (224 / 112 / 56, drnlib.models.design_crop) times
                 this, rounded (WoD Table 1: each network at its own crop)
$DRNLIB_RECIPE_OVERRIDES (JSON) changes recipes for one process: {"epochs": 1} changes every recipe,
{"drn_classifier": {"epochs": 1}} one; a result computed so records it (drnlib.params), and its runs get other keys.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from drnlib.errors import ParameterError
from drnlib.files import read_yaml
from drnlib.provenance import check_profile, repo_root
from drnlib.train import RunConfig

EXTRA_KEYS = ("about", "base", "init", "crop_scale")
OVERRIDES_ENV = "DRNLIB_RECIPE_OVERRIDES"
# WoD: Model A1 (pools before B2, B3; stride-2 convs at B4-B6) is tuned from Model A's ImageNet classifier (WoD Sec. 5).
TUNED_FROM = {"model_a1": "model_a"}


def recipes_path(profile: str, root: Path | None = None) -> Path:
    return Path(root or repo_root()) / "params" / check_profile(profile) / "recipes.yaml"


@functools.lru_cache(maxsize=16)
def _read(path: Path, mtime: float) -> dict:
    data = read_yaml(path, "recipes file")
    if not all(isinstance(v, dict) for v in data.values()):
        raise ParameterError(f"{path} must map recipe names to their settings")
    return data


def overrides() -> dict:
    """$DRNLIB_RECIPE_OVERRIDES as a dict ({} when unset); ParameterError when it is not a JSON object."""
    text = os.environ.get(OVERRIDES_ENV)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ParameterError(f"${OVERRIDES_ENV} must be a JSON object, got {text!r}")
    return value


def load(profile: str, root: Path | None = None) -> dict[str, dict]:
    """Every recipe of a profile, `base` resolved and $DRNLIB_RECIPE_OVERRIDES applied: {name: fields}."""
    path = recipes_path(profile, root)
    if not path.is_file():
        raise ParameterError(f"missing {path} (the profile's training recipes)")
    raw = _read(path, path.stat().st_mtime)
    changes = overrides()
    known = {f for f in RunConfig.__dataclass_fields__}
    unknown = [k for k in changes if k not in known and k not in raw]
    if unknown:
        raise ParameterError(f"${OVERRIDES_ENV} names {', '.join(unknown)}: neither a run setting nor a recipe of "
                             f"{path}" + _closest(unknown[0], [*known, *raw]))

    def resolve(name: str, seen: tuple = ()) -> dict:
        if name in seen:
            raise ParameterError(f"{path}: recipe {name!r} is its own base ({' -> '.join((*seen, name))})")
        if name not in raw:
            raise ParameterError(f"{path}: no recipe {name!r}" + _closest(name, raw))
        fields = dict(raw[name])
        base = fields.pop("base", None)
        return {**(resolve(base, (*seen, name)) if base else {}), **fields}

    out = {}
    for name in raw:
        fields = resolve(name)
        fields.update({k: v for k, v in changes.items() if k in known})
        fields.update(changes.get(name, {}) if isinstance(changes.get(name), dict) else {})
        unknown = [k for k in fields if k not in known and k not in EXTRA_KEYS]
        if unknown:
            raise ParameterError(f"{path}: recipe {name!r} has unknown setting(s) {', '.join(unknown)}"
                                 + _closest(unknown[0], [*known, *EXTRA_KEYS]))
        for key in ("about", "base", "init"):
            if fields.get(key) is not None and not isinstance(fields[key], str):
                raise ParameterError(f"{path}: recipe {name!r}: {key} must be a string, got {fields[key]!r}")
        scale = fields.get("crop_scale")
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))
                                  or not 0 < scale < 100):
            raise ParameterError(f"{path}: recipe {name!r}: crop_scale must be a positive number, got {scale!r}")
        if fields.get("init") is not None and fields["init"] not in raw:
            raise ParameterError(f"{path}: recipe {name!r} starts from unknown recipe {fields['init']!r}")
        out[name] = fields
    for name in out:  # trunks start tuned runs: an `init` chain must end
        chain = [name]
        while (init := out[chain[-1]].get("init")) is not None:
            if init in chain:
                raise ParameterError(f"{path}: recipe {name!r} starts from itself ({' -> '.join((*chain, init))})")
            chain.append(init)
    return out


def _closest(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=3)
    return f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(choices))}"


def recipe_names(profile: str, root: Path | None = None) -> list[str]:
    return list(load(profile, root))


def recipe(profile: str, name: str, root: Path | None = None) -> dict:
    """The fields of one recipe (with its extra keys), ParameterError for an unknown name."""
    recipes = load(profile, root)
    if name not in recipes:
        raise ParameterError(f"profile {profile} has no recipe {name!r}" + _closest(name, recipes))
    return dict(recipes[name])


def config(profile: str, name: str, arch: str, root: Path | None = None, **options) -> RunConfig:
    """The RunConfig of `arch` trained with recipe `name` at `profile`, with `options` (RunConfig fields) on top;
    `data_options` among them change the recipe's data options key by key (a run of generated scenes changes the
    object, not the scenes' other settings). `init` is not resolved here (drnlib.runs turns it into `init_run`);
    out_dir is RunConfig's default."""
    from drnlib.models import design_crop, normalize_name

    fields = recipe(profile, name, root)
    for key in ("about", "base", "init"):
        fields.pop(key, None)
    scale = fields.pop("crop_scale", None)
    arch = normalize_name(arch)
    if scale is not None:
        fields["crop_size"] = max(8, round(design_crop(arch) * float(scale)))
    if "data_options" in options:  # the run's data options change the recipe's, key by key
        options = {**options, "data_options": {**data_options(fields.get("data_options", {})),
                                               **data_options(options["data_options"])}}
    elif "data_options" in fields:
        fields["data_options"] = data_options(fields["data_options"])
    return RunConfig.from_dict({**fields, **options, "arch": arch, "recipe": name})


def data_options(options: dict) -> dict:
    """A run's data options as its key stores them: a whole number is an int (4.0 -> 4), so that a page's
    `thinness=4.0` and the command line's `--data-option thinness=4` name the same run."""
    if not isinstance(options, dict):
        raise ParameterError(f"data_options must be a mapping of names to values, got {options!r}")
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in options.items()}


def init_of(profile: str, name: str, arch: str, root: Path | None = None) -> tuple[str, str] | None:
    """(recipe, arch) of the run that initialises `arch`'s trunk under recipe `name`, or None."""
    init = recipe(profile, name, root).get("init")
    if not init:
        return None
    return init, TUNED_FROM.get(arch, arch)


def describe(profile: str, name: str, root: Path | None = None) -> str:
    """What a page says about the recipe its networks were trained with: its purpose, its settings that differ from
    RunConfig's defaults, and (below the paper profile) how it departs from the paper profile's recipe of the same
    name, i.e. from the papers' protocol."""
    fields = recipe(profile, name, root)
    about = fields.pop("about", "")
    defaults = RunConfig()
    shown = [f"{k} {_plain(v, k)}" for k, v in fields.items()
             if getattr(defaults, k, object()) != v and k not in ("workers", "device", "progress")]
    text = f"{name} ({profile}): " + (f"{about} " if about else "") + "; ".join(shown)
    if profile != "paper" and name in load("paper", root):
        changed = {k: v for k, v in differences(profile, "paper", name, root).items()
                   if k not in ("workers", "device", "progress", "base")}
        if changed:
            text += ". Differs from the paper profile (the papers' protocol) in: " + "; ".join(
                f"{k} {_plain(ours, k)} (paper {_plain(theirs, k)})" for k, (ours, theirs) in changed.items())
    return text


def _plain(value, key: str = "") -> str:
    """A recipe value as a page prints it: none (all, for a limit), 0.001, 30 60 90, image_size=32 num_classes=8."""
    if value is None:
        return "all" if key.startswith("limit_") else "none"
    if isinstance(value, dict):
        return " ".join(f"{k}={_plain(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return " ".join(_plain(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def differences(profile: str, other: str, name: str, root: Path | None = None) -> dict:
    """{field: (value at `profile`, value at `other`)} for the fields where a recipe differs between two profiles
    (a missing field counts as RunConfig's default): how, say, the mini recipe scales the paper's down."""
    a, b = recipe(profile, name, root), recipe(other, name, root)
    defaults = RunConfig()
    out = {}
    for key in dict.fromkeys([*a, *b]):
        if key == "about":
            continue
        va, vb = a.get(key, getattr(defaults, key, None)), b.get(key, getattr(defaults, key, None))
        if va != vb:
            out[key] = (va, vb)
    return out


__all__ = ["EXTRA_KEYS", "OVERRIDES_ENV", "TUNED_FROM", "recipes_path", "overrides", "load", "recipe_names",
           "recipe", "config", "data_options", "init_of", "describe", "differences"]
