"""What the book's pages measure, one module per part of the book; the pages themselves (book/NAME.py) set their
parameters, make one call to check them, call these, and plot:

    p = start("table1", globals())          # the page's parameters, checked (drnlib.params) with its module's RULES
    runs = drn_classification.classifiers(p)    # the runs the page needs (drnlib.runs), found or trained

- drn_architecture.py    DRN Figures 1 and 5, the model zoo: measured on the built networks (no training)
- drn_classification.py  DRN Tables 1-2, Figures 3, 4, 6, 7: the ImageNet-style
                         classifiers, class activation maps, box mass, high-frequency share of feature maps
- drn_segmentation.py    DRN Table 3 and Figure 8: segmentation runs, label-map pictures
- wod_classification.py  WoD Figure 1, Table 1, Figure A4: the CIFAR ResNets, the Table 1 rows
- wod_segmentation.py    WoD Tables 2-7: the networks with their WoD heads, other test protocols (splits,
                         multi-scale, model averaging), category IoU
- thin_objects.py        Beyond the papers: thin and small objects on synthetic scenes
- overview.py            Every claim at a glance: the verdicts every page stored, at every profile

Each module has RULES ({page: {parameter: rule}}, drnlib.params rules beyond the declared types) and
`needed_runs(page, p) -> [RunSpec]`, the runs a page trains, so that `python -m drnlib runs --profile P` lists every
run of the book (`profile_runs`) from the same code the pages use.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd

from drnlib.errors import ParameterError
from drnlib.params import PageParams, coerce, notebook_parameters, page_parameters, read_params
from drnlib.provenance import check_profile, repo_root

# Which module serves each page of the book (pages not listed need no module: no runs, no rules).
PAGE_MODULES = {
    "zoo": "drn_architecture", "fig1_fig5": "drn_architecture", "fig3": "drn_classification",
    "fig4": "drn_classification", "fig6": "drn_classification", "fig7": "drn_classification",
    "table1": "drn_classification", "table2": "drn_classification",
    "table3": "drn_segmentation", "fig8": "drn_segmentation",
    "wod_fig1": "wod_classification", "wod_table1": "wod_classification", "wod_figA4": "wod_classification",
    **{f"wod_table{i}": "wod_segmentation" for i in range(2, 8)},
    "thin_objects": "thin_objects", "claims": "overview",
}


def page_module(page: str):
    """The drnlib.pages module that serves `page` (None for a page that needs none)."""
    name = PAGE_MODULES.get(page)
    return importlib.import_module(f"drnlib.pages.{name}") if name else None


def rules(page: str) -> dict:
    module = page_module(page)
    return dict(getattr(module, "RULES", {}).get(page, {})) if module else {}


def start(page: str, namespace: dict) -> PageParams:
    """A page's first call after its parameters cell: check every parameter (declared type, then the page's
    rules), write the checked values back into the page's namespace, say which profiles' numbers the page shows and
    what they can tell (drnlib.display.profiles_note), and return the parameters (drnlib.params)."""
    from drnlib.display import profiles_note

    p = page_parameters(page, namespace, **rules(page))
    profiles_note(page, p.profile, trains=not getattr(page_module(page), "TRAINS_NOTHING", False))
    if p.profile == "mini":
        _warn_without_gpu(page, p)
    return p


def _warn_without_gpu(page: str, p: PageParams) -> None:
    """One line when a mini page is about to train on a machine without CUDA: its recipes are sized for a GPU."""
    import sys

    import torch

    from drnlib import runs

    if torch.cuda.is_available():
        return
    missing = [s for s in needed_runs(page, p) if runs.state(p.profile, s) != "done"]
    if missing:
        print(f"note: {page} at the mini profile trains {len(missing)} run(s) sized for one GPU; without CUDA this "
              f"takes hours (runs resume where they stop: interrupt and run the page again at any time)",
              file=sys.stderr, flush=True)


def checked(page: str, values: dict, root: Path | None = None) -> PageParams:
    """A page's parameters checked as the page checks them, outside the page: `values` (e.g. a params file) on
    top of the defaults of book/<page>.py's parameters cell."""
    declared = notebook_parameters(Path(root or repo_root()) / "book" / f"{page}.py")
    namespace = {name: info["default"] for name, info in declared.items()}
    namespace.update(values)
    namespace["__annotations__"] = {name: info["type"] for name, info in declared.items()}
    unknown = [k for k in values if k not in declared]
    if unknown:
        raise ParameterError(f"{page} has no parameter(s) {', '.join(unknown)}")
    for name, info in declared.items():
        namespace[name] = coerce(name, namespace[name], info["type"])
    return page_parameters(page, namespace, **rules(page))


def needed_runs(page: str, p: PageParams) -> list:
    """The runs (drnlib.runs.RunSpec) a page trains with parameters `p` ([] for a page that trains nothing)."""
    module = page_module(page)
    return list(module.needed_runs(page, p)) if module and hasattr(module, "needed_runs") else []


def toc_page_names(root: Path | None = None) -> list[str]:
    """The notebook pages of _toc.yml, in reading order."""
    from drnlib.toc import toc_pages

    return [page.name for page in toc_pages(Path(root or repo_root())) if page.is_notebook]


def profile_runs(profile: str, pages: list[str] | None = None, root: Path | None = None) -> pd.DataFrame:
    """Every run the pages need at `profile` (each once, with the pages that use it): recipe, arch, options, state
    (done / partial / missing), GFLOPs of its training, its share of the total, and the command that trains it."""
    from drnlib import runs

    check_profile(profile)
    root = Path(root or repo_root())
    names = pages or toc_page_names(root)
    users: dict = {}
    for page in names:
        p = checked(page, read_params(root, profile, page), root)
        for spec in needed_runs(page, p):
            chain = [spec]
            while (parent := runs.trunk(chain[-1], profile, root)) is not None:
                chain.append(parent)
            for s in reversed(chain):
                users.setdefault(s, []).append(page)
    rows = []
    for spec, used_by in users.items():
        cfg = runs.config(profile, spec, root)
        rows.append({"pages": ",".join(dict.fromkeys(used_by)), "recipe": spec.recipe, "arch": spec.arch,
                     "options": " ".join(f"{k}={v}" for k, v in spec.option_dict().items()), "state": runs.state(profile, spec, root),
                     "epochs": cfg.epochs, "images/epoch": runs.train_images(cfg),
                     "GFLOPs": runs.training_flops(cfg) / 1e9, "command": runs.command(profile, spec)})
    frame = pd.DataFrame(rows, columns=["pages", "recipe", "arch", "options", "state", "epochs", "images/epoch",
                                        "GFLOPs", "command"])
    total = frame["GFLOPs"].sum()
    frame["share"] = frame["GFLOPs"] / total if total else 0.0
    return frame


__all__ = ["PAGE_MODULES", "page_module", "rules", "start", "checked", "needed_runs", "toc_page_names",
           "profile_runs"]
