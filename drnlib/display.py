"""Showing results on a page: tables that look alike across the book, "paper vs ours", claims with their verdicts,
provenance notes, figures of other profiles, and myst-nb glue for the prose.

    format_table(frame, "{:.2f}")             # a Styler: numbers formatted, "–" for missing
    paper_vs_ours(paper, ours, record)        # the paper's number, ours and ours − paper, per metric
    paper_vs_ours_figure(paper, intervals, metric="top-1 error (%)")   # the same as dots, ours with 95% intervals
    claims_table(verdicts, record)            # drnlib.paper verdicts: claim, paper's numbers, ours, margin, verdict
    glue_results(record); show_provenance(record)
    show_stored_figures("table1", "curves", current=profile); compare_profiles("table1")

Everything here also works in a page run as a plain script (no IPython, no jinja2 on the GPU machine): tables fall
back to plain DataFrames and notes are printed.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from drnlib.errors import DataError, ParameterError
from drnlib.paper import claims
from drnlib.provenance import PROFILE_MEANING, PROFILES, hardware_name, provenance_note, repo_root
from drnlib.results import Record, figure_path, flatten, load_all_profiles, load_results, results_path

VERDICT_MARKS = {"holds": "✓ holds", "does not hold": "✗ does not hold", "not resolved": "~ not resolved",
                 "not tested": "– not tested", "cannot be tested here": "– cannot be tested here"}


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def _show(*objects) -> None:
    """IPython's display in a notebook; print in a plain script (the GPU machine runs pages as scripts)."""
    if not _in_notebook():
        for obj in objects:
            print(getattr(obj, "data", obj) if type(obj).__name__ == "Markdown" else obj)
        return
    from IPython.display import display

    display(*objects)


def _markdown(text: str):
    if not _in_notebook():
        return text
    from IPython.display import Markdown

    return Markdown(text)


_YES_NO = {True: "yes", False: "no"}


def format_table(frame: pd.DataFrame, number_format: str = "{:.4g}", caption: str | None = None):
    """A Styler that prints numbers with `number_format` (columns of whole numbers as 1,234; booleans as yes / no;
    "–" for missing), keeps row names on one line, hides a plain 0, 1, 2... index, gives columns of sentences room,
    and looks like a plain DataFrame in the book (class "dataframe", padded cells); a plain DataFrame where pandas
    cannot style (no jinja2, e.g. a page run as a script on the GPU machine)."""
    try:
        style = frame.style
    except (ImportError, AttributeError):  # no jinja2 (pandas 3 raises AttributeError)
        return frame
    def shown(v, whole=False):
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            return "–"
        if isinstance(v, (bool, np.bool_)):
            return _YES_NO[bool(v)]
        if isinstance(v, (int, float, np.integer, np.floating)):
            return f"{int(v):,}" if whole else number_format.format(v)
        return v

    styler = style.format(shown)
    # a column of integers (depth, parameters; pandas' Int64 where some are missing) prints as whole numbers,
    # whatever the table's number format
    if frame.columns.is_unique:
        for column in frame.columns:
            if frame[column].dtype.kind in "iu":
                styler = styler.format(lambda v: shown(v, whole=True), subset=[column])
    # a column of sentences gets room for a few words per line (the table scrolls in its box rather than squeeze it)
    prose = [i for i in range(frame.shape[1])
             if frame.iloc[:, i].map(lambda v: isinstance(v, str) and len(re.sub(r"<[^>]+>", "", v)) > 40).any()]
    styler = styler.set_table_attributes('class="dataframe"').set_table_styles(
        [{"selector": "th, td", "props": "padding: 0.25em 0.6em; text-align: right;"},
         {"selector": "th.row_heading", "props": "white-space: nowrap;"},
         {"selector": "caption", "props": "caption-side: bottom; text-align: left; font-size: 0.85em;"},
         *({"selector": f"td.col{i}", "props": "min-width: 12em; text-align: left;"} for i in prose)])
    if isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        styler = styler.hide(axis="index")  # 0, 1, 2...: row numbers no reader asked for
    return styler.set_caption(caption) if caption else styler


def paper_vs_ours(paper: pd.DataFrame, ours: pd.DataFrame, record: Record | None = None,
                  columns: list[str] | None = None, decimals: int = 2):
    """The one "paper vs ours" table: for each metric the paper's number, ours and ours - paper, row by row.

    Rows are ours (in our order; the paper's cell is empty where it has no such row); columns are those both
    tables share unless given. Returns a Styler whose caption names the paper's source and our provenance;
    `.data` is the plain DataFrame (columns: (metric, "paper" | "ours" | "Δ")).
    """
    columns = columns or [c for c in paper.columns if c in ours.columns]
    missing = [c for c in columns if c not in paper.columns or c not in ours.columns]
    if not columns or missing:
        raise ParameterError(f"paper and ours share no column {missing or ''}: paper has {list(paper.columns)}, "
                             f"ours {list(ours.columns)}")
    paper_rows = paper.reindex(ours.index)
    parts = {}
    for column in columns:
        p = pd.to_numeric(paper_rows[column], errors="coerce")
        o = pd.to_numeric(ours[column], errors="coerce")
        parts[(column, "paper")], parts[(column, "ours")], parts[(column, "Δ")] = p, o, o - p
    frame = pd.DataFrame(parts, index=ours.index)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    source = paper.attrs.get("source") or f"{paper.attrs.get('paper', 'paper')} {paper.attrs.get('table', '')}".strip()
    ours_note = provenance_note(record.provenance, record.profile) if record is not None else "provenance not given"
    return format_table(frame, f"{{:.{decimals}f}}", f"Paper: {source}. Ours: {ours_note}. Δ = ours − paper.")


PAPER_AXES = ("auto", "shared", "own")


def _figure_panels(ours: pd.DataFrame) -> dict:
    """{metric: frame with value, low, high}: one panel per metric of `ours` (None for a single metric)."""
    needed = ["value", "low", "high"]
    if isinstance(ours.columns, pd.MultiIndex):
        panels = {metric: ours[metric] for metric in dict.fromkeys(ours.columns.get_level_values(0))}
    else:
        panels = {None: ours}
    for metric, frame in panels.items():
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            where = f" of metric {metric!r}" if metric is not None else ""
            raise ParameterError(f"ours{where} needs columns value, low, high; it lacks {', '.join(missing)}")
    return {metric: frame[needed].apply(pd.to_numeric, errors="coerce") for metric, frame in panels.items()}


def _far_apart(ours: pd.Series, known: pd.Series) -> bool:
    """Whether the paper's numbers and ours are further apart than either spreads (the gap between their ranges
    exceeds the wider range): then one shared axis would squeeze each side's order into a corner."""
    ours = ours.dropna()
    if len(known) < 2 or ours.empty:
        return False
    gap = max(known.min() - ours.max(), ours.min() - known.max(), 0.0)
    return gap > max(ours.max() - ours.min(), known.max() - known.min())


def paper_vs_ours_figure(paper_values, ours: pd.DataFrame, *, metric, title: str = "",
                         lower_is_better: bool = True, paper_axis: str = "auto"):
    """A dot plot per network: the paper's number (open circle) next to ours (filled, with its 95% interval as an
    error bar), so a reader sees at a glance whether the order and the gaps carry over.

    `ours`: rows by network with columns "value", "low", "high" (one metric; drnlib.paper.interval_table), or a
    two-level column index (metric, value | low | high) for several metrics: one panel per metric, side by side
    (up to three to a row), sharing the networks. `paper_values`: the paper's numbers by network, a Series (of
    the one metric, or named after one of ours') or a DataFrame with a column per metric of `ours` (other columns
    are left out); NaN or absent where the paper has no number (a lost cell): that row shows ours only. Networks
    only the paper has (e.g. a released model we do not train) get rows of their own below ours, labelled in the
    paper's colour. `metric`: the x-axis label (with several metrics the unit of every panel, each titled by its
    metric), or {metric: label}. `paper_axis`: "shared" (one x axis), "own" (the paper's numbers on a second x
    axis at the top, in the paper's colour, in panels where at least two of them stand beside ours) or "auto":
    "own" when, in some panel, the paper's numbers and ours lie further apart than either spreads (e.g. ImageNet
    errors beside those of seconds of training); the title then says so. Returns the figure. Raises
    ParameterError on columns that do not fit these shapes or an unknown `paper_axis`.
    """
    import matplotlib.pyplot as plt

    if paper_axis not in PAPER_AXES:
        raise ParameterError(f"paper_axis must be one of {', '.join(PAPER_AXES)}, got {paper_axis!r}")
    panels = _figure_panels(ours)
    keys = list(panels)
    if isinstance(paper_values, pd.Series):
        if len(keys) > 1 and paper_values.name not in keys:
            raise ParameterError(f"the paper's numbers are one Series named {paper_values.name!r} but ours have "
                                 f"{len(keys)} metrics ({', '.join(map(str, keys))}): name it after one, or give a "
                                 "DataFrame with a column per metric")
        paper_frame = paper_values.to_frame(paper_values.name if len(keys) > 1 else keys[0])
    else:
        paper_frame = pd.DataFrame(paper_values)
        if keys == [None] and len(paper_frame.columns) == 1:
            paper_frame.columns = [None]
        elif paper_frame.notna().any().any() and not any(k in paper_frame.columns for k in keys):
            raise ParameterError(f"the paper's columns {list(paper_frame.columns)} are none of ours' metrics "
                                 f"{keys}")
    paper_frame = paper_frame.reindex(columns=keys).apply(pd.to_numeric, errors="coerce")
    paper_only = [name for name in paper_frame.index
                  if name not in ours.index and paper_frame.loc[name].notna().any()]
    names = [*ours.index, *paper_only]
    y = np.arange(len(names))[::-1].astype(float)
    direction = "lower is better" if lower_is_better else "higher is better"

    # A scale of the paper's own serves only numbers that have ours beside them; one choice for every panel, so
    # that the panels read alike.
    beside = {key: paper_frame[key].reindex(ours.index).dropna() for key in keys}
    own = {key: len(beside[key]) >= 2 for key in keys}
    if paper_axis == "shared" or (paper_axis == "auto" and not any(
            own[key] and _far_apart(panels[key]["value"], beside[key]) for key in keys)):
        own = dict.fromkeys(keys, False)
    columns = len(keys) if len(keys) <= 3 else 2 if len(keys) == 4 else 3
    rows = -(-len(keys) // columns)
    fig, axes = plt.subplots(rows, columns, squeeze=False, sharey=True, layout="constrained",
                             figsize=(2.2 + 3.5 * columns, rows * (0.4 * len(names) + 1.5) + 0.6))
    handles = {}
    for ax, key in zip(axes.flat, keys):
        mine = panels[key].reindex(names)
        drawn = mine["value"].notna().to_numpy()
        below = (mine["value"] - mine["low"]).clip(lower=0).fillna(0)
        above = (mine["high"] - mine["value"]).clip(lower=0).fillna(0)
        bars = ax.errorbar(mine["value"][drawn], y[drawn], xerr=[below[drawn], above[drawn]], fmt="o", color="C0",
                           capsize=3, label="ours (95% interval)")
        handles.setdefault("ours (95% interval)", bars)
        theirs = paper_frame[key].reindex(names)
        target = ax.twiny() if own[key] else ax
        if theirs.notna().any():
            dots, = target.plot(theirs.to_numpy(dtype=float), y, "o", mfc="none", color="C3", ms=8, mew=1.5,
                                label="paper")
            handles.setdefault("paper", dots)
        text = metric.get(key, str(key)) if isinstance(metric, dict) else metric
        ax.set_xlabel(f"{'ours: ' if own[key] else ''}{text} ({direction})")
        if own[key]:
            target.set_xlabel(f"paper: {text}", color="C3")
            target.tick_params(axis="x", colors="C3")
        if len(keys) > 1 and not isinstance(metric, dict):
            ax.set_title(str(key), fontsize=10)
        if paper_only:
            ax.axhline(y[len(ours.index)] + 0.5, color="0.7", lw=0.8, ls="--")
        ax.grid(axis="x", alpha=0.3)
    for ax in axes.flat[len(keys):]:
        ax.remove()
    for ax in axes[:, 0]:
        ax.set_yticks(y, names)
        for tick, name in zip(ax.get_yticklabels(), names):
            if name in paper_only:
                tick.set_color("C3")
    if any(own.values()):
        title = (title + "\n" if title else "") + "the paper's numbers on their own scale (top axis, red)"
    if title:
        fig.suptitle(title, fontsize=11)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=len(handles), fontsize=8,
               frameon=False)
    return fig


def verdicts_frame(verdicts) -> pd.DataFrame:
    """drnlib.paper verdicts (objects or their stored dicts) as rows: claim id, the claim, the paper's numbers, ours,
    the margin with its 95% interval, the verdict, and the scale it was tested at."""
    rows = []
    catalogue = claims()
    for v in verdicts:
        v = v.as_dict() if hasattr(v, "as_dict") else dict(v)
        info = catalogue[v["claim"]]
        interval = v.get("interval")
        tested = v["verdict"] != "not tested"
        margin = "" if v.get("margin") is None or not tested else f"{v['margin']:+.2f}"
        if interval is not None and margin:
            margin += f" [{interval[0]:+.2f}, {interval[1]:+.2f}]"
        # the same words as the claims page: a claim our data sets cannot test at all is not merely "not tested"
        verdict = v["verdict"] if info.testable else "cannot be tested here"
        rows.append({"claim": v["claim"], "the paper says": info.claim, "paper's numbers": info.paper_numbers,
                     "ours": v.get("ours", ""), "margin [95%]": margin,
                     "verdict": VERDICT_MARKS[verdict], "tested at": v.get("why") or v.get("scale", "")})
    return pd.DataFrame(rows, columns=["claim", "the paper says", "paper's numbers", "ours", "margin [95%]",
                                       "verdict", "tested at"])


def claims_table(verdicts, record: Record | None = None):
    """The claims a page tests and their verdicts under drnlib.paper's one rule (see its docstring); the caption
    names our provenance. Margins are in the claim's favour (positive: as the paper says)."""
    frame = verdicts_frame(verdicts)
    caption = ("Margin: the difference in the claim's favour, with its 95% interval; a verdict needs the whole "
               "interval on one side (drnlib.paper). ")
    caption += f"Ours: {provenance_note(record.provenance, record.profile)}." if record is not None else ""
    styled = format_table(frame, caption=caption)
    if isinstance(styled, pd.DataFrame):
        return styled
    return styled.hide(axis="index").set_table_styles(
        [{"selector": "td", "props": "text-align: left; vertical-align: top;"}], overwrite=False)


def profiles_note(page: str, current: str, root=None, trains: bool = True) -> str:
    """One sentence for the top of a results page: which profiles' numbers it shows (this build's, and every other
    profile with stored results) and what each can and cannot tell; for a page that trains nothing (`trains`
    False), that its numbers are computed on the networks as built and do not depend on the profile."""
    if not trains:
        text = ("This page's numbers are computed on the networks as built (nothing is trained), so they are the "
                f"same at every profile; this is the **{current}** build.")
        _show(_markdown(text))
        return text
    shown = [p for p in PROFILES if p == current or results_path(page, p, root).is_file()]
    parts = [f"the **{p}** profile ({PROFILE_MEANING[p]})" for p in shown]
    text = "This page shows numbers of " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1
                                            else parts[0]) + "."
    _show(_markdown(text))
    return text


def glue_results(record: Record, display: bool = False) -> list[str]:
    """Glue every scalar value (nested keys joined by '_') and every table, so prose cites them by name:
    {glue:text}`share:.3f` on the page itself, {glue:text}`fig4.ipynb::share:.3f` from another page."""
    if _in_notebook():
        from myst_nb import glue
    else:  # a page run as a plain script (e.g. on the GPU machine, which has no Jupyter): nothing to glue into
        def glue(name, value, display=False):
            return None

    names = []
    for name, value in flatten(record.values).items():
        if value is not None:
            glue(name, value, display=display)
            names.append(name)
    for key, frame in record.tables.items():
        glue(key, frame, display=display)
        names.append(key)
    return names


def _relative(path) -> str:
    if path is None:
        return "(not stored)"
    try:
        return str(path.relative_to(repo_root()))
    except ValueError:
        return str(path)


def show_provenance(record: Record) -> None:
    """Display where the numbers on a page come from (a small Markdown note)."""
    note = f"*Measured:* {provenance_note(record.provenance, record.profile)}. *Stored in* `{_relative(record.path)}`."
    _show(_markdown(note))


def show_stored_figures(name: str, tag: str, current: str, root=None) -> list[str]:
    """Display the figure `tag` of every profile other than `current` that has one stored, each captioned with
    that profile's provenance; returns the profiles shown."""
    shown = []
    for profile in PROFILES:
        path = figure_path(name, profile, tag, root)
        if profile == current or not path.is_file():
            continue
        caption = f"**{profile} profile.** "
        if results_path(name, profile, root).is_file():
            record = load_results(name, profile, root)
            caption += provenance_note(record.provenance, profile)
        if _in_notebook():
            from IPython.display import Image

            _show(_markdown(caption), Image(filename=str(path)))
        else:
            print(caption, path)
        shown.append(profile)
    return shown


_PROVENANCE_ROWS = {
    "data set": lambda p: p.get("dataset"),
    "hardware": hardware_name,
    "torch": lambda p: p.get("torch"),
    "commit": lambda p: ((p.get("git", {}).get("commit") or "none")[:10]
                         + (" (dirty)" if p.get("git", {}).get("dirty") else "")),
    "date": lambda p: p.get("date"),
    "not the profile's settings": lambda p: ", ".join(f"{k}={v}" for k, v in (p.get("overrides") or {}).items()),
}


def compare_profiles(name: str, keys: list[str] | None = None, root=None) -> pd.DataFrame:
    """A table with one column per profile that has results: the chosen values, then each profile's provenance."""
    records = load_all_profiles(name, root)
    if not records:
        raise DataError(f"no results for {name} at any profile under {(root or repo_root())}/results")
    flat = {p: flatten(r.values) for p, r in records.items()}
    # the claims' verdicts have their own table (claims_table, and the claims page): not repeated key by key here
    keys = keys or list(dict.fromkeys(k for values in flat.values() for k in values if not k.startswith("claims_")))
    rows = {k: {p: flat[p].get(k) for p in records} for k in keys}
    for label, get in _PROVENANCE_ROWS.items():
        rows[label] = {p: get(r.provenance) for p, r in records.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(records))


__all__ = ["format_table", "paper_vs_ours", "paper_vs_ours_figure", "verdicts_frame", "claims_table", "glue_results", "show_provenance",
           "show_stored_figures", "compare_profiles", "profiles_note"]
