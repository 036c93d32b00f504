# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Every claim at a glance

# %% tags=["parameters", "hide-cell"]
profile: str = "smoke"  # smoke | mini | paper: the profile this page is built at (it shows every profile's results)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt

from drnlib.display import format_table, glue_results
from drnlib.pages import start
from drnlib.pages.overview import claims_overview, counts_figure, linked, verdict_counts
from drnlib.results import save_figure, save_results

p = start("claims", globals())

# %% [markdown]
# Both papers make {glue:text}`claims_total` claims that an experiment or a check on a built network could confirm
# or refute ({glue:text}`drn_total` in the DRN paper, {glue:text}`wod_total` in Wider or Deeper; the list, with where
# each is in its paper and the paper's numbers, is `drnlib/claims.yaml`). This page gathers, for every claim, the
# verdict of the page that tests it, at every profile that has run, under one rule (`drnlib.paper`): a claim
# **holds** when the whole 95% interval of our margin lies on the paper's side, **does not hold** when it lies on the
# other side, and is **not resolved** when the interval straddles; claims about structure are computed exactly on
# the built networks. A claim our data cannot test keeps its row and says why.
#
# Read the smoke column as a pipeline check only: its networks train for seconds on a CPU, so its verdicts say
# nothing about the papers. A mini column (one GPU, the bundled real data, scaled-down recipes), where its results
# are stored, is the first that can support or refute a claim, and only at its own scale; a paper column would be
# the papers' own protocol. The table has a column for each profile with stored results, no more.

# %% [markdown]
# ## The count
#
# Per profile: how many claims were tested, and how many of them hold. "Not tested" means the profile does not
# train the networks or measure the quantity a claim needs; "not run" that the page has not stored results at that
# profile yet.

# %%
overview = claims_overview()
counts = verdict_counts(overview)
values = {"claims_total": len(overview), "drn_total": int((overview[("claim", "paper")] == "DRN").sum()),
          "wod_total": int((overview[("claim", "paper")] == "WoD").sum()),
          "counts": counts.to_dict(orient="index")}
record = save_results("claims", profile, values, dataset="the stored results of every page", params=p,
                      tables={"counts": counts.reset_index()})
glue_results(record)
format_table(counts, "{:.0f}")

# %%
fig = counts_figure(overview)
save_figure(fig, "claims", profile, "counts")
plt.show()

# %% [markdown]
# ## Every claim
#
# One row per claim, in the papers' order: its page (the link leads to the experiment) and its verdict at each
# profile that has run, then the paper's words and numbers, and for each profile our numbers, the margin in the
# claim's favour with its 95% interval, and the scale it was tested at (data, images, profile, hardware and date).

# %%
format_table(linked(overview)).hide(axis="index").set_table_styles(
    [{"selector": "td", "props": "text-align: left; vertical-align: top;"},
     {"selector": "td.col0", "props": "white-space: nowrap;"}], overwrite=False)
