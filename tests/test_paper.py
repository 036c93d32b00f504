"""The one claim rule (drnlib.paper): verdicts from measured numbers with their uncertainty, and the catalogue of
both papers' claims (drnlib/claims.yaml)."""

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from drnlib import paper
from drnlib.errors import ParameterError
from drnlib.eval.metrics import segmentation_scores
from drnlib.toc import toc_pages
from drnlib.provenance import repo_root


def errors(rate: float, n: int, seed: int) -> np.ndarray:
    """n per-image 0/1 errors with exactly round(rate * n) ones, shuffled."""
    out = np.zeros(n)
    out[: round(rate * n)] = 1
    return np.random.default_rng(seed).permutation(out)


def test_the_catalogue_holds_every_claim_of_both_papers_on_a_page_of_the_book():
    claims = paper.claims()
    assert len(claims) == 91
    assert sum(c.paper == "drn" for c in claims.values()) == 43
    assert sum(c.paper == "wider_or_deeper" for c in claims.values()) == 48
    pages = {page.name for page in toc_pages(repo_root())}
    for claim in claims.values():
        assert claim.page in pages, claim.id
        assert claim.testable or claim.why_not, claim.id
        assert claim.relation in (None, *paper.RELATIONS), claim.id
    assert [c.id for c in paper.page_claims("table1")][:2] == ["DRN-1", "DRN-6"]
    with pytest.raises(ParameterError, match="unknown claim 'DRN-0'; did you mean"):
        paper.claims()["DRN-0"]


def test_a_clear_difference_holds_its_opposite_does_not_and_noise_is_not_resolved():
    better = paper.Evidence("A", "error", errors(0.10, 1000, 0), False)
    worse = paper.Evidence("B", "error", errors(0.30, 1000, 1), False)
    verdict = paper.decide("DRN-8", better, worse, scale="1,000 images")
    assert verdict.verdict == "holds" and verdict.margin == pytest.approx(20.0)
    low, high = verdict.interval
    assert 15 < low < 20 < high < 25 and "paired bootstrap over 1000 images" in verdict.method
    assert paper.decide("DRN-8", worse, better).verdict == "does not hold"
    twin = paper.Evidence("A'", "error", errors(0.10, 1000, 2), False)  # the same rate, other images wrong
    noise = paper.decide("DRN-8", better, twin)
    assert noise.verdict == "not resolved" and noise.interval[0] < 0 < noise.interval[1]
    assert paper.decide("DRN-8", better, worse).interval == verdict.interval  # seeded: the same numbers again


def test_matches_needs_the_whole_interval_within_the_tolerance():
    wrong = errors(0.200, 5000, 3)
    other = wrong.copy()
    other[np.flatnonzero(wrong == 0)[:25]] = 1  # the same mistakes and 25 more: 0.5 points worse
    a, b = paper.Evidence("A", "error", wrong, False), paper.Evidence("B", "error", other, False)
    assert paper.decide("DRN-15", a, b, tolerance=1.0).verdict == "holds"
    far = paper.Evidence("C", "error", errors(0.30, 5000, 5), False)
    assert paper.decide("DRN-15", a, far, tolerance=1.0).verdict == "does not hold"
    small = [paper.Evidence(x, "error", errors(0.2, 100, s), False) for x, s in (("A", 6), ("B", 7))]
    assert paper.decide("DRN-15", *small, tolerance=1.0).verdict == "not resolved"  # 100 images: too few
    with pytest.raises(ParameterError, match="needs a tolerance"):
        paper.decide("DRN-8", a, b, relation="matches")


def test_a_single_error_rate_has_its_clopper_pearson_interval():
    wrong = errors(0.3, 100, 8)
    evidence = paper.Evidence("A", "error", wrong, False)
    ci = binomtest(30, 100).proportion_ci(0.95)
    assert evidence.interval() == pytest.approx((100 * ci.low, 100 * ci.high))
    verdict = paper.decide("DRN-10", evidence, threshold=50.0, relation="at_most")
    assert verdict.verdict == "holds" and verdict.margin == pytest.approx(20.0)
    assert paper.decide("DRN-10", evidence, threshold=25.0, relation="at_most").verdict == "not resolved"


def test_mean_iou_from_per_image_confusions_and_its_paired_bootstrap():
    rng = np.random.default_rng(0)
    confusions = rng.integers(0, 50, size=(40, 4, 4)) + np.eye(4, dtype=int) * 200
    evidence = paper.Evidence("A", "iou", confusions, True)
    expected = segmentation_scores(torch.tensor(confusions.sum(0)))["miou"]
    assert evidence.value == pytest.approx(expected)
    worse = paper.Evidence("B", "iou", confusions + np.ones((4, 4), dtype=int) * 60, True)
    verdict = paper.decide("DRN-39", evidence, worse)
    assert verdict.verdict == "holds" and verdict.margin > 0 and verdict.interval[0] > 0


def test_per_image_records_are_read_from_scores_and_refused_when_missing():
    scores = {"top1_error": 50.0, "per_image": {"top1_wrong": [1, 0, 1, 0], "confusion": [[[1, 0], [0, 1]]]}}
    assert paper.Evidence.from_scores("A", scores, "top1_error").value == 50.0
    assert paper.Evidence.from_scores("A", scores, "miou").value == 100.0
    with pytest.raises(ParameterError, match="no per-image top5_error; evaluate again"):
        paper.Evidence.from_scores("A", scores, "top5_error")
    with pytest.raises(ParameterError, match="measure different things"):
        paper.decide("DRN-8", paper.Evidence.from_scores("A", scores, "top1_error"),
                     paper.Evidence.from_scores("B", scores, "miou"))


def test_composite_claims_and_verdicts_without_uncertainty():
    holds = paper.exact("DRN-1", True, "equal")
    fails = paper.exact("DRN-1", False, "differ")
    untested = paper.not_tested("DRN-9", "ResNet-34 not trained")
    assert paper.all_hold("DRN-8", [holds, holds]).verdict == "holds"
    assert paper.all_hold("DRN-8", [holds, fails]).verdict == "does not hold"
    combined = paper.all_hold("DRN-8", [holds, untested])
    assert combined.verdict == "not tested" and combined.why == "ResNet-34 not trained"
    stored = holds.as_dict()
    assert stored == {**stored, "claim": "DRN-1", "verdict": "holds", "method": "exact", "margin": None}
    with pytest.raises(ParameterError, match="verdict must be one of"):
        paper.Verdict("DRN-1", "maybe", "x")
