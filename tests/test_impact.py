"""Causal channel impact: simulated worlds with known effects, the design choices by hand, registry and CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assistant.cli import app
from tools.attribution import attribute
from tools.causal import aipw_att
from tools.context import ToolContext
from tools.dataset import from_records
from tools.impact import SPECS, ImpactArgs, comparison_stage, customer_table, estimate_impact
from tools.registry import invoke

STAGES = ("visit", "signup", "pricing", "purchase")
HOUR = 3600.0


def simulate(n: int = 4000, seed: int = 3) -> tuple[pd.DataFrame, float]:
    """A world with a randomised promo (+15 pp on purchase after pricing), a zero-effect retargeting shown only
    at pricing, and a zero-effect 'vip' email aimed at high-intent customers (confounded by intent, which shows
    in page views before signup). Returns the events and the promo's true effect on the treated, in pp.

    With 4,000 customers a zero-effect channel still lands outside its 95% interval for about 1 seed in 20
    (the raw within-stage difference does too): the assertions below hold for this fixed seed, and the
    robust ones (adjusted effect far below the naive difference) hold for any."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-03-01T00:00:00")
    arrival = rng.uniform(0, 20 * 86_400, n)
    intent = rng.random(n) < 0.4
    entry = np.where(rng.random(n) < 0.5, "seo", "social")
    u = rng.random((n, 3))
    signup = u[:, 0] < np.where(intent, 0.8, 0.4)
    t_signup = arrival + rng.exponential(5 * HOUR, n)
    promo = signup & (rng.random(n) < 0.5)
    vip = signup & (rng.random(n) < np.where(intent, 0.8, 0.2))
    pricing = signup & (u[:, 1] < 0.7)
    t_pricing = t_signup + rng.exponential(10 * HOUR, n) + 2 * HOUR
    p0 = np.where(intent, 0.5, 0.2)
    y0 = pricing & (u[:, 2] < p0)
    y1 = pricing & (u[:, 2] < p0 + 0.15)
    purchase = np.where(promo, y1, y0)
    t_purchase = t_pricing + rng.exponential(6 * HOUR, n) + HOUR
    retarget = pricing & (rng.random(n) < 0.8)
    t_retarget = t_pricing + rng.uniform(0.1, 0.9, n) * (t_purchase - t_pricing)
    rows: list[tuple[Any, ...]] = []
    for i in range(n):
        cid = f"u{i:05d}"
        rows.append((cid, arrival[i], "visit", entry[i], None))
        for k in range(5 if intent[i] else 1):
            rows.append((cid, arrival[i] + (k + 1) * 60.0, "page_view", None, None))
        if signup[i]:
            rows.append((cid, t_signup[i], "signup", None, None))
        if promo[i]:
            rows.append((cid, t_signup[i] + 1800.0, "touch", "promo", None))
        if vip[i]:
            rows.append((cid, t_signup[i] + 900.0, "touch", "vip", None))
        if pricing[i]:
            rows.append((cid, t_pricing[i], "pricing", None, None))
        if retarget[i]:
            rows.append((cid, t_retarget[i], "touch", "retargeting", None))
        if purchase[i]:
            rows.append((cid, t_purchase[i], "purchase", None, 100.0))
    frame = pd.DataFrame(rows, columns=["customer_id", "seconds", "event", "channel", "revenue"])
    frame["timestamp"] = start + (frame.pop("seconds") * 1e6).astype("int64").astype("timedelta64[us]")
    att = float((y1.astype(int) - y0.astype(int))[promo].mean() * 100)
    return frame, att


@pytest.fixture(scope="module")
def world() -> tuple[Any, float]:
    frame, att = simulate()
    return from_records(frame), att


@pytest.fixture(scope="module")
def impact(world: tuple[Any, float]) -> dict[str, dict[str, Any]]:
    result = estimate_impact(world[0], conversion="purchase", stages=STAGES, seed=7)
    return {r["channel"]: r for r in result.result["channels"]}


def test_randomised_channel_recovers_its_lift(world: tuple[Any, float], impact: dict[str, dict[str, Any]]) -> None:
    promo = impact["promo"]
    assert promo["compared_from"] == "signup"
    assert promo["ci_low_pp"] <= world[1] <= promo["ci_high_pp"]
    assert promo["verdict"] == "drives"


def test_late_stage_retargeting_comes_out_near_zero(impact: dict[str, dict[str, Any]]) -> None:
    rt = impact["retargeting"]
    assert rt["compared_from"] == "pricing"
    assert rt["naive_difference_pp"] > 20  # only pricing reachers see it: naively it looks excellent
    assert rt["ci_low_pp"] <= 0 <= rt["ci_high_pp"]
    assert abs(rt["effect_pp"]) < 5
    assert rt["verdict"] == "no evidence"


def test_confounded_channel_is_adjusted(impact: dict[str, dict[str, Any]]) -> None:
    vip = impact["vip"]
    assert vip["naive_difference_pp"] > 10  # aimed at high-intent customers
    assert vip["ci_low_pp"] <= 0 <= vip["ci_high_pp"]  # intent shows in pre-signup activity, which is adjusted for
    assert abs(vip["effect_pp"]) < vip["naive_difference_pp"] / 2


def test_rows_and_definition(world: tuple[Any, float]) -> None:
    result = estimate_impact(world[0], conversion="purchase", stages=STAGES, channels=["promo"], seed=7)
    row = result.result["channels"][0]
    for key in (
        "channel",
        "effect_pp",
        "ci_low_pp",
        "ci_high_pp",
        "naive_difference_pp",
        "exposed_customers",
        "verdict",
    ):
        assert key in row
    assert set(result.definition["assumptions"]) >= {"no_unmeasured_confounding", "positivity", "consistency"}
    assert "ATT" in result.definition["estimand"]
    assert result.definition["causal"] is True
    again = estimate_impact(world[0], conversion="purchase", stages=STAGES, channels=["promo"], seed=7)
    assert again.result == result.result  # deterministic


def test_attribution_credits_the_zero_effect_channel(world: tuple[Any, float]) -> None:
    last = {r["channel"]: r["share"] for r in attribute(world[0], model="last").result["channels"]}
    assert last["retargeting"] > 0.5  # credit is not causation


def test_comparison_stage_by_hand() -> None:
    rows = [
        # a: visit, signup, exposed after signup; b: exposed after signup; c: exposed before signup; d: unexposed.
        ("a", "2024-01-01 00:00", "visit", "seo", None),
        ("a", "2024-01-01 01:00", "signup", None, None),
        ("a", "2024-01-01 02:00", "touch", "mail", None),
        ("b", "2024-01-01 00:00", "visit", None, None),
        ("b", "2024-01-01 01:00", "signup", None, None),
        ("b", "2024-01-01 03:00", "touch", "mail", None),
        ("c", "2024-01-01 00:00", "visit", None, None),
        ("c", "2024-01-01 00:30", "touch", "mail", None),
        ("c", "2024-01-01 01:00", "signup", None, None),
        ("d", "2024-01-01 00:00", "visit", None, None),
    ]
    ds = from_records(pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "channel", "revenue"]))
    table = customer_table(ds, "purchase", ["visit", "signup"], ["mail", "seo"])
    mail = table.touch_times[:, 0]
    # Everyone exposed had reached visit before exposure, but only 2 of 3 had reached signup (67% < 90%).
    assert comparison_stage(table, mail) == 0
    # Events strictly before each customer's first signup: a has its visit only.
    assert table.events_before[0].tolist() == [0.0, 1.0]
    assert table.entry_channel.tolist() == [1, 0, 0, -1]  # a entered via seo; b and c first touched by mail


def test_aipw_on_a_known_randomised_experiment() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    x = rng.normal(size=(n, 3))
    a = rng.random(n) < 1 / (1 + np.exp(-x[:, 0]))  # treatment depends on x0
    base = 1 / (1 + np.exp(-(x[:, 0] - 1)))  # and so does the outcome
    y = rng.random(n) < np.clip(base + 0.1 * a, 0, 1)
    estimate = aipw_att(x, a, y, seed=1)
    naive = y[a].mean() - y[~a].mean()
    assert estimate.ci_low <= 0.1 <= estimate.ci_high
    assert naive > 0.15  # confounded upwards


def test_registry_and_cli(world: tuple[Any, float], tmp_path: Path) -> None:
    spec = SPECS[0]
    assert spec.name == "impact" and 4 <= len(spec.examples) <= 8
    assert all(field.description for field in ImpactArgs.model_fields.values())
    result = invoke("impact", {"channels": ["promo"]}, ToolContext.for_dataset(world[0]))
    assert result.result["channels"][0]["channel"] == "promo"
    frame, _ = simulate(n=600, seed=2)
    data = tmp_path / "events.parquet"
    frame.to_parquet(data)
    config = tmp_path / "config.toml"
    config.write_text('[journey]\nstages = ["visit", "signup", "pricing", "purchase"]\n')
    out = CliRunner().invoke(
        app,
        ["--config", str(config), "impact", "--data", str(data), "--channels", "promo,retargeting", "--format", "json"],
        catch_exceptions=False,
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["tool"] == "impact"
    assert {r["channel"] for r in payload["result"]["channels"]} == {"promo", "retargeting"}
    bad = CliRunner().invoke(app, ["impact", "--data", str(data), "--channels", "tv"], catch_exceptions=False)
    assert bad.exit_code == 2 and "channel 'tv' does not occur" in bad.stderr
