"""The papers' data beside published.csv: margins.csv follows it line for line, by its declared rule,
and every side of claims.csv names a measure paper 2's results hold."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
KEY = ("table", "row", "column", "arm", "section", "metric", "x", "stat", "value")
# the Bayes ceiling of each test condition (docs: experiments/paper2/README.md, "Margins")
CEILING = {"clean": Decimal("100"), "standard": Decimal("99.98"), "profile": Decimal("99.98"),
           "combined": Decimal("98.1"), "final": Decimal("98.1")}
CHANCE = Decimal("25")
RELATIONS = {"greater", "less", "equivalent", "above", "below"}
TESTS = {"paired_t", "one_sample_t", "paired_binary", "binomial", "paired_sd"}
ARMS = {"ketamine", "ssri", "neurosteroid", "untreated"}


def rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("paper", [1, 2])
def test_every_published_value_has_the_margin_its_rule_gives(paper):
    published = rows(EXPERIMENTS / f"paper{paper}" / "published.csv")
    margins = rows(EXPERIMENTS / f"paper{paper}" / "margins.csv")
    assert [tuple(r[k] for k in KEY) for r in margins] == [tuple(r[k] for k in KEY) for r in published]
    combined = {(r["arm"], r["section"], r["x"]): Decimal(r["value"]) for r in published
                if r["metric"] == "combined" and r["stat"] == "mean"}
    for r in margins:
        v, metric = Decimal(r["value"]), r["metric"]
        if metric in CEILING:
            near = CEILING[metric] - v <= 3 or v - CHANCE <= 3
            expected = "2" if near else "5"
        elif metric in ("drop", "total_drop"):
            if metric == "drop":
                before = combined[(r["arm"], "treated", "")]
                ends = (before, before - v)
            else:
                ends = (combined[(r["arm"], "longitudinal", "0")], combined[(r["arm"], "longitudinal", "8")])
            expected = "2" if all(CEILING["combined"] - e <= 3 for e in ends) else "5"
        else:
            expected = {"sparsity": "0.05", "relapsed": "0.2", "relapse_cycle": "1"}[metric]
        assert r["margin"] == expected, (r["table"], r["row"], r["column"])
        assert r["rationale"]


def test_a_repeated_or_derived_value_names_values_that_exist():
    for paper in (1, 2):
        published = rows(EXPERIMENTS / f"paper{paper}" / "published.csv")
        labels = {f"{r['table']}|{r['row']}|{r['column']}": r for r in published}
        for r in published:
            assert r["family"] in {"primary", "repeated", "derived", "by construction"}
            refs = [o for o in r["of"].split(";") if o]
            assert bool(refs) == (r["family"] in ("repeated", "derived")), r
            for o in refs:
                assert o in labels, o
            if r["family"] == "repeated" and (r["table"], labels[refs[0]]["table"]) != ("Table 3", "Table 1"):
                # printed twice, the same number (Table 3's cycle 0 is a second noise draw of Table 1's)
                assert r["value"] == labels[refs[0]]["value"], r


def measures() -> set[tuple[str, str, str]]:
    """(arm, section.metric, x) of every per-seed value of paper 2's reference, as the tidy frame names it."""
    out = set()
    for r in rows(EXPERIMENTS / "paper2" / "expected.csv"):
        parts = r["metric"].split(".")
        name, x = ".".join(parts[:2]), ".".join(parts[2:])
        out.add((r["treatment"], name, x))
        if name.startswith("untreated."):
            out.add(("untreated", name, x))
        if name == "longitudinal.relapse_cycle":  # the tidy frame's 0/1 per seed, at the last cycle
            out.add((r["treatment"], "longitudinal.relapsed", "8"))
    return out


@pytest.mark.parametrize("paper", [1, 2])
def test_every_claim_is_well_formed_and_names_measures_paper_2_holds(paper):
    known = measures()
    claims = rows(EXPERIMENTS / f"paper{paper}" / "claims.csv")
    assert len({r["id"] for r in claims}) == len(claims)

    for r in claims:
        assert r["id"].startswith(r["claim"]) and r["claim"].startswith(f"p{paper}-")
        assert r["relation"] in RELATIONS and r["test"] in TESTS and r["stat"] in {"mean", "sd"}
        assert r["quote"] and r["where"] and r["statement"]
        assert r["left_arm"] in ARMS
        sides = [(r["left_arm"], r["left_metric"], r["left_x"])]
        if r["right_arm"]:
            assert r["value"] == "" and r["right_arm"] in ARMS
            sides.append((r["right_arm"], r["right_metric"], r["right_x"]))
        else:
            assert r["value"] != ""
        for side in sides:  # x spelled as the reference spells it: 0.5, 1, 2.5
            assert side in known, (r["id"], side)
        if r["relation"] in ("above", "below"):
            assert r["margin"] == ""
        else:
            assert float(r["margin"]) > 0
