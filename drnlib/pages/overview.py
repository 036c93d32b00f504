"""Every claim at a glance: the verdicts the pages stored, for every claim of both papers and every profile.

    frame = claims_overview()          # one row per claim of drnlib/claims.yaml: the paper's words, its page, and
                                       # per profile with results: ours, the margin [95%], the verdict, the scale
    verdict_counts(frame)              # per profile: claims tested, holding, not holding, not resolved

Nothing here is typed: the rows come from drnlib/claims.yaml, the verdicts from results/<profile>/<page>.json
(written by each page with drnlib.paper's one rule).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from drnlib.paper import VERDICTS, claims
from drnlib.provenance import PROFILES, hardware_name
from drnlib.results import load_results, results_path

RULES: dict = {"claims": {}}


def needed_runs(page: str, p) -> list:
    """The overview trains nothing: it reads what the other pages stored."""
    return []


def stored_verdicts(root: Path | None = None) -> dict:
    """{profile: {claim id: (stored verdict dict, the page's provenance)}} from every page's results."""
    out: dict = {}
    pages = {info.page for info in claims().values()}
    for profile in PROFILES:
        for page in sorted(pages):
            if not results_path(page, profile, root).is_file():
                continue
            record = load_results(page, profile, root)
            for claim_id, verdict in (record.values.get("claims") or {}).items():
                out.setdefault(profile, {})[claim_id] = (verdict, record.provenance)
    return out


def _margin(verdict: dict) -> str:
    if verdict.get("margin") is None:
        return ""
    text = f"{verdict['margin']:+.2f}"
    if verdict.get("interval"):
        low, high = verdict["interval"]
        text += f" [{low:+.2f}, {high:+.2f}]"
    return text


def claims_overview(root: Path | None = None) -> pd.DataFrame:
    """One row per claim of both papers (drnlib/claims.yaml, in order); for every profile with stored results the
    columns (profile, "verdict"), (profile, "ours"), (profile, "margin [95%]"), (profile, "tested at"). A claim our
    data cannot test says why in every profile's verdict column; a testable claim a profile has not run says so."""
    stored = stored_verdicts(root)
    rows = []
    for info in claims().values():
        row = {("claim", "id"): info.id, ("claim", "paper"): "DRN" if info.paper == "drn" else "WoD",
               ("claim", "the paper says"): info.claim, ("claim", "where"): info.where,
               ("claim", "paper's numbers"): info.paper_numbers, ("claim", "page"): info.page}
        for profile in stored:
            found = stored[profile].get(info.id)
            if not info.testable:
                verdict, ours, margin, scale = "cannot be tested here", info.why_not, "", ""
            elif found is None:
                verdict, ours, margin, scale = "not run", f"{info.page} stored no verdict at {profile}", "", ""
            else:
                data, provenance = found
                verdict, ours = data["verdict"], data.get("ours", "")
                margin = _margin(data) if verdict != "not tested" else ""
                scale = data.get("why") or data.get("scale") or ""
                scale += f" ({hardware_name(provenance)}, {(provenance.get('date') or '')[:10]})"
                if provenance.get("overrides"):
                    scale += " · not the profile's settings"
            row.update({(profile, "verdict"): verdict, (profile, "ours"): ours, (profile, "margin [95%]"): margin,
                        (profile, "tested at"): scale})
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


def verdict_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Per profile (rows): claims in all, testable here, tested (a verdict other than "not tested"), and how many
    hold, do not hold, are not resolved."""
    profiles = [p for p in PROFILES if (p, "verdict") in frame.columns]
    testable = frame[("claim", "id")].map(lambda cid: claims()[cid].testable)
    rows = {}
    for profile in profiles:
        verdicts = frame[(profile, "verdict")]
        counts = {v: int((verdicts == v).sum()) for v in VERDICTS}
        rows[profile] = {"claims": len(frame), "testable here": int(testable.sum()),
                         "tested": int(verdicts.isin(["holds", "does not hold", "not resolved"]).sum()),
                         "hold": counts["holds"], "do not hold": counts["does not hold"],
                         "not resolved": counts["not resolved"],
                         "not tested (network or quantity missing)": counts["not tested"],
                         "not run": int((verdicts == "not run").sum())}
    return pd.DataFrame(rows).T.rename_axis("profile")


def counts_figure(frame: pd.DataFrame):
    """Stacked bars per profile and paper: how many claims hold, do not hold, are not resolved, were not tested."""
    import matplotlib.pyplot as plt

    profiles = [p for p in PROFILES if (p, "verdict") in frame.columns]
    order = ["holds", "does not hold", "not resolved", "not tested", "not run", "cannot be tested here"]
    colors = ["#2ca02c", "#d62728", "#ff7f0e", "#bbbbbb", "#dddddd", "#888888"]
    labels, stacks = [], []
    for profile in profiles:
        for name in ("DRN", "WoD"):
            verdicts = frame.loc[frame[("claim", "paper")] == name, (profile, "verdict")]
            labels.append(f"{name}, {profile}")
            stacks.append([int((verdicts == v).sum()) for v in order])
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(labels) + 1.5))
    left = [0] * len(labels)
    for i, (verdict, color) in enumerate(zip(order, colors)):
        widths = [stack[i] for stack in stacks]
        ax.barh(labels, widths, left=left, color=color, label=verdict)
        left = [a + b for a, b in zip(left, widths)]
    ax.invert_yaxis()
    ax.set(xlabel="claims", title="the papers' claims, by verdict")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def linked(frame: pd.DataFrame) -> pd.DataFrame:
    """The overview for display: the claim, its page (a link to it) and every profile's verdict first, where a
    reader at 1280 px sees them without scrolling the table; then the claim's words, numbers and our evidence."""
    out = frame.copy()
    out[("claim", "page")] = [f'<a href="{page}.html">{page}</a>' for page in frame[("claim", "page")]]
    first = [("claim", "id"), ("claim", "page"), *(c for c in out.columns if c[1] == "verdict")]
    return out[first + [c for c in out.columns if c not in first]]


__all__ = ["RULES", "needed_runs", "stored_verdicts", "claims_overview", "verdict_counts", "counts_figure", "linked"]
