"""The pasted-stats parser: every input shape, number spelling and unit, and nothing dropped silently."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.pasted_numbers import detect_number_style, parse_metrics
from tools.pasted_parse import looks_like_funnel_stats, parse_funnel_text

EXAMPLE = """Journey Stage Data:
- Awareness: 10,000 visitors/month, 45% bounce rate, avg 1.2 pages viewed
- Consideration: 2,500 content downloads, 15% proceed to product pages, avg 3 touchpoints before progression
- Evaluation: 800 product page visitors, 25% request demos, 40% abandon after pricing page
- Purchase: 150 demo requests, 35% convert to paid customers, avg 28-day sales cycle
- Retention: 52 customers, 85% active usage, 12% churn annually
"""


def _stages(text: str) -> list[tuple[str, float | None]]:
    parsed = parse_funnel_text(text)
    return [(s.name, s.count.value if s.count else None) for s in parsed.stages]


def _metrics(text: str) -> list[tuple[str, str, str, float, str, str | None, str | None]]:
    return [
        (s.name, m.kind, m.role, pytest.approx(m.value), m.measures, m.unit, m.period)  # type: ignore[misc]
        for s in parse_funnel_text(text).stages
        for m in s.metrics
    ]


def test_the_users_example_every_metric_with_its_meaning() -> None:
    parsed = parse_funnel_text(EXAMPLE)
    assert parsed.shape == "list"
    assert _metrics(EXAMPLE) == [
        ("Awareness", "count", "stage_count", 10_000, "visitors", "visitors", "month"),
        ("Awareness", "rate", "leak", 0.45, "bounce rate", "%", None),
        ("Awareness", "average", "average", 1.2, "pages viewed", "pages", None),
        ("Consideration", "count", "stage_count", 2_500, "content downloads", "content downloads", None),
        ("Consideration", "rate", "progression", 0.15, "proceed to product pages", "%", None),
        ("Consideration", "average", "average", 3, "touchpoints before progression", "touchpoints", None),
        ("Evaluation", "count", "stage_count", 800, "product page visitors", "product page visitors", None),
        ("Evaluation", "rate", "progression", 0.25, "request demos", "%", None),
        ("Evaluation", "rate", "leak", 0.40, "abandon after pricing page", "%", None),
        ("Purchase", "count", "stage_count", 150, "demo requests", "demo requests", None),
        ("Purchase", "rate", "progression", 0.35, "convert to paid customers", "%", None),
        ("Purchase", "duration", "duration", 28, "sales cycle", "days", None),
        ("Retention", "count", "stage_count", 52, "customers", "customers", None),
        ("Retention", "rate", "health", 0.85, "active usage", "%", None),
        ("Retention", "rate", "leak", 0.12, "churn", "%", "year"),
    ]
    # the heading is reported, not silently dropped
    assert [(u.line, u.text) for u in parsed.unparsed] == [(1, "Journey Stage Data:")]


@pytest.mark.parametrize(
    "text",
    [
        "Visits 10,000 → Signups 1,200 → Paid 90",
        "Visits 10,000 -> Signups 1,200 -> Paid 90",
        "Visits 10,000 > Signups 1,200 > Paid 90",
        "Visits 10,000 => Signups 1,200 => Paid 90",
        "Visits: 10,000 | Signups: 1,200 | Paid: 90",
        "Visits 10k → Signups 1.2k → Paid 90",
    ],
)
def test_arrow_chains(text: str) -> None:
    parsed = parse_funnel_text(text)
    assert "arrows" in parsed.shape
    assert _stages(text) == [("Visits", 10_000), ("Signups", 1_200), ("Paid", 90)]


def test_arrow_chain_with_counts_first_and_rates() -> None:
    text = "10,000 visitors → 1,200 signups (12%) → 90 paid (7.5%)"
    assert _stages(text) == [("Visitors", 10_000), ("Signups", 1_200), ("Paid", 90)]
    rates = [(s.name, m.role, m.value) for s in parse_funnel_text(text).stages for m in s.metrics if m.kind == "rate"]
    # a bare rate next to a count is conversion from the previous stage
    assert rates == [("Signups", "conversion", 0.12), ("Paid", "conversion", 0.075)]


def test_rate_between_arrows_belongs_to_the_next_stage() -> None:
    parsed = parse_funnel_text("Visits 10,000 → 12% → Signups 1,200")
    assert [(s.name, [m.role for m in s.metrics]) for s in parsed.stages] == [
        ("Visits", ["stage_count"]),
        ("Signups", ["conversion", "stage_count"]),
    ]


def test_heading_before_an_arrow_chain_is_reported() -> None:
    parsed = parse_funnel_text("Funnel: Visits 10,000 → Signups 1,200 → Paid 90")
    assert [s.name for s in parsed.stages] == ["Visits", "Signups", "Paid"]
    assert [(u.text, u.reason) for u in parsed.unparsed] == [("Funnel", "heading before the arrow chain")]


def test_stage_dash_count_rate_lines() -> None:
    text = "Visits - 10,000\nSignups – 1,200 (12%)\nPaid — 90 (7.5%)"
    assert _stages(text) == [("Visits", 10_000), ("Signups", 1_200), ("Paid", 90)]
    assert [m.value for s in parse_funnel_text(text).stages for m in s.with_role("conversion")] == [0.12, 0.075]


def test_markdown_table() -> None:
    text = (
        "Our funnel\n"
        "| Stage | Users | Bounce rate | Avg pages |\n"
        "|---|---:|---:|---:|\n"
        "| Visit | 10,000 | 45% | 1.2 |\n"
        "| Signup | 1,200 | | |\n"
        "| Paid | 90 | | |\n"
    )
    parsed = parse_funnel_text(text)
    assert parsed.shape == "markdown table"
    assert _stages(text) == [("Visit", 10_000), ("Signup", 1_200), ("Paid", 90)]
    visit = parsed.stages[0]
    assert [(m.kind, m.role, m.value) for m in visit.metrics] == [
        ("count", "stage_count", 10_000),
        ("rate", "leak", 0.45),
        ("average", "average", 1.2),
    ]
    assert [u.text for u in parsed.unparsed] == ["Our funnel"]


@pytest.mark.parametrize(
    "text",
    [
        "Stage,Users,Bounce rate\nVisit,10,000,45%\nSignup,1,200,\nPaid,90,",  # unquoted thousands: re-joined
        'Stage,Users,Bounce rate\nVisit,"10,000",45%\nSignup,"1,200",\nPaid,90,',
        "Stage\tUsers\tBounce rate\nVisit\t10000\t45%\nSignup\t1200\t\nPaid\t90\t",
        "Stage      Users     Bounce rate\nVisit      10000     45%\nSignup     1200\nPaid       90",
    ],
    ids=["csv-unquoted", "csv-quoted", "tsv", "aligned"],
)
def test_delimited_tables(text: str) -> None:
    parsed = parse_funnel_text(text)
    assert parsed.shape.endswith("table")
    assert _stages(text) == [("Visit", 10_000), ("Signup", 1_200), ("Paid", 90)]
    assert parsed.stages[0].with_role("leak")[0].value == pytest.approx(0.45)
    assert parsed.unparsed == []


def test_rate_columns_as_fractions_or_percent_numbers() -> None:
    text = "Stage\tUsers\tConversion\nVisit\t10000\t\nSignup\t1200\t0.12\nPaid\t90\t7.5"
    rates = [m.value for s in parse_funnel_text(text).stages for m in s.metrics if m.kind == "rate"]
    assert rates == pytest.approx([0.12, 0.075])  # 0.12 is a fraction, 7.5 under a rate column is 7.5%


def test_european_semicolon_table() -> None:
    text = "Stufe;Besucher;Rate\nBesuch;10.000;45,5%\nAnmeldung;1.200;12%\nKauf;90;7,5%"
    parsed = parse_funnel_text(text)
    assert parsed.number_style == "european"
    assert _stages(text) == [("Besuch", 10_000), ("Anmeldung", 1_200), ("Kauf", 90)]
    assert [m.value for s in parsed.stages for m in s.metrics if m.kind == "rate"] == pytest.approx(
        [0.455, 0.12, 0.075]
    )


def test_metric_lines_attach_to_the_stage_above_and_values_to_the_funnel() -> None:
    text = "Visitors: 10,000\nBounce rate: 45%\nSignups: 1,200\nConversion rate: 12%\nPaid: 90\nACV: $12k"
    parsed = parse_funnel_text(text)
    assert [(s.name, [m.role for m in s.metrics]) for s in parsed.stages] == [
        ("Visitors", ["stage_count", "leak"]),
        ("Signups", ["stage_count", "conversion"]),
        ("Paid", ["stage_count"]),
    ]
    assert [(m.kind, m.value, m.unit, m.measures) for m in parsed.funnel_metrics] == [("money", 12_000, "USD", "ACV")]


def test_label_lines_with_indented_metrics() -> None:
    text = "Awareness\n  10,000 visitors\n  45% bounce\nConsideration\n  2,500 downloads\nPurchase\n  150 orders"
    parsed = parse_funnel_text(text)
    assert _stages(text) == [("Awareness", 10_000), ("Consideration", 2_500), ("Purchase", 150)]
    assert parsed.stages[0].with_role("leak")[0].value == 0.45
    assert parsed.unparsed == []


def test_heading_period_applies_to_counts() -> None:
    parsed = parse_funnel_text("Weekly funnel\nVisits: 10 000\nSignups: 1 200\nPaid: 90")
    assert parsed.period == "week"
    assert [s.count.period for s in parsed.stages if s.count] == ["week", "week", "week"]
    assert _stages("Visits: 10 000\nSignups: 1 200\nPaid: 90") == [("Visits", 10_000), ("Signups", 1_200), ("Paid", 90)]


def test_fragments_without_numbers_are_reported() -> None:
    parsed = parse_funnel_text("Visits: 10,000 (mostly organic)\nSignups: 1,200\nPaid: 90")
    assert [(u.line, u.text) for u in parsed.unparsed] == [(1, "mostly organic")]


# --------------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("fragment", "kind", "value", "unit", "measures"),
    [
        ("10,000 visitors", "count", 10_000, "visitors", "visitors"),
        ("10.000 visitors", "count", 10_000, "visitors", "visitors"),  # a count with 3 decimals is implausible
        ("10 000 visitors", "count", 10_000, "visitors", "visitors"),
        ("1,234,567 impressions", "count", 1_234_567, "impressions", "impressions"),
        ("1.234.567 impressions", "count", 1_234_567, "impressions", "impressions"),
        ("1.2M impressions", "count", 1_200_000, "impressions", "impressions"),
        ("24k clicks", "count", 24_000, "clicks", "clicks"),
        ("3 million views", "count", 3_000_000, "views", "views"),
        ("45% bounce rate", "rate", 0.45, "%", "bounce rate"),
        ("45 % bounce rate", "rate", 0.45, "%", "bounce rate"),
        ("12.5 percent open", "rate", 0.125, "%", "open"),
        ("$120 average order value", "money", 120, "USD", "average order value"),
        ("ACV $12k", "money", 12_000, "USD", "ACV"),
        ("€1.5k deal size", "money", 1_500, "EUR", "deal size"),
        ("120 EUR per order", "money", 120, "EUR", "per order"),
        ("£80 basket", "money", 80, "GBP", "basket"),
        ("avg 28-day sales cycle", "duration", 28, "days", "sales cycle"),
        ("6 weeks to close", "duration", 6, "weeks", "to close"),
        ("avg 3 touchpoints", "average", 3, "touchpoints", "touchpoints"),
        ("1.2 pages per visit", "average", 1.2, "pages", "pages"),
    ],
)
def test_numbers_units_and_meanings(fragment: str, kind: str, value: float, unit: str, measures: str) -> None:
    (metric,), leftovers = parse_metrics(fragment, "unknown")
    assert (metric.kind, metric.value, metric.unit, metric.measures) == (kind, pytest.approx(value), unit, measures)
    assert leftovers == []


@pytest.mark.parametrize(
    ("fragment", "style", "value"),
    [
        ("1,5% churn", "unknown", 0.015),  # decimal comma
        ("1.234,5 visits", "unknown", 1234.5),
        ("1,234.5 visits", "unknown", 1234.5),
        ("1,500 visits", "european", 1.5),  # in a European document a single comma group is a decimal
        ("1,500 visits", "english", 1500),
        ("avg 1.500 pages", "english", 1.5),  # not a count: a dot is a decimal point
        ("avg 1.500 pages", "european", 1500),
    ],
)
def test_separator_styles(fragment: str, style: str, value: float) -> None:
    (metric,), _ = parse_metrics(fragment, style)  # type: ignore[arg-type]
    assert metric.value == pytest.approx(value)


def test_ambiguous_readings_are_noted() -> None:
    (metric,), _ = parse_metrics("10.000 visitors", "unknown")
    assert metric.notes == ["read '10.000' as 10,000 (dot as thousands separator)"]


@pytest.mark.parametrize(
    ("fragment", "period"),
    [
        ("10,000 visitors/month", "month"),
        ("10,000 visitors per month", "month"),
        ("10,000 monthly visitors", "month"),
        ("500 signups per week", "week"),
        ("500 signups/wk", "week"),
        ("12% churn annually", "year"),
        ("12% churn per year", "year"),
        ("12% yearly churn", "year"),
        ("40 demos a day", "day"),
        ("3,000 leads per quarter", "quarter"),
        ("10,000 visitors", None),
    ],
)
def test_periods(fragment: str, period: str | None) -> None:
    (metric,), _ = parse_metrics(fragment, "unknown")
    assert metric.period == period


def test_number_style_detection() -> None:
    assert detect_number_style(["avg 1.2 pages, 10,000 visits"]) == "english"
    assert detect_number_style(["1.234.567 Besucher, 45,5%"]) == "european"
    assert detect_number_style(["10,000 visits"]) == "unknown"


# ----------------------------------------------------------------------------------------- routing heuristic


@pytest.mark.parametrize(
    "text",
    [
        EXAMPLE,
        "Visits 10,000 → Signups 1,200 → Paid 90",
        "Visits 10,000 -> Signups 1,200",
        "visits: 10k\nsignups: 1k\npaid: 50",
        "| Stage | Users |\n|---|---|\n| Visit | 100 |\n| Signup | 20 |\n| Paid | 5 |",
    ],
)
def test_looks_like_funnel_stats(text: str) -> None:
    assert looks_like_funnel_stats(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "where do we lose people after pricing?",
        "which channels really drive purchases in 2024?",
        "What happens if conversion goes from 2% -> 3%?",
        "We had 10,000 visits and 1,200 signups last month, is that good?",
        "1. biggest friction points\n2. underutilised touchpoints\n3. quick wins",
        "Visits: 10,000\nSignups: 1,200",
    ],
)
def test_does_not_look_like_funnel_stats(text: str) -> None:
    assert not looks_like_funnel_stats(text)


# ----------------------------------------------------------------------------------------------- properties

# Words that mean something next to a number ("avg 3", "USD 12") are not stage names.
_RESERVED = {"avg", "average", "mean", "median", "about", "approx", "around", "over", "under", "only", "usd",
             "eur", "gbp", "chf", "cad", "aud", "and", "with", "while", "but", "plus", "est", "circa", "roughly",
             "typical", "typically", "approximately", "estimated"}  # fmt: skip
_labels = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10).filter(lambda w: w not in _RESERVED),
    min_size=2,
    max_size=6,
    unique=True,
)


@settings(max_examples=60, deadline=None)
@given(labels=_labels, data=st.data())
def test_any_arrow_chain_or_list_round_trips(labels: list[str], data: st.DataObject) -> None:
    counts = data.draw(st.lists(st.integers(1, 9_999_999), min_size=len(labels), max_size=len(labels)))
    names = [label.capitalize() for label in labels]
    arrows = " → ".join(f"{n} {c:,}" for n, c in zip(names, counts, strict=True))
    bullets = "\n".join(f"- {n}: {c:,} people" for n, c in zip(names, counts, strict=True))
    expected = [(n, float(c)) for n, c in zip(names, counts, strict=True)]
    assert _stages(arrows) == expected
    assert _stages(bullets) == expected


@settings(max_examples=80, deadline=None)
@given(value=st.integers(1000, 99_999_999), style=st.sampled_from(["comma", "space", "dot"]))
def test_thousands_separators_round_trip(value: int, style: str) -> None:
    text = f"{value:,}"
    text = {"comma": text, "space": text.replace(",", " "), "dot": text.replace(",", ".")}[style]
    (metric,), _ = parse_metrics(f"{text} visitors", "unknown")
    assert metric.value == value


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab 1:,%-\n→", max_size=20), max_size=6))
def test_nothing_is_dropped_silently(lines: list[str]) -> None:
    text = "\n".join(lines)
    parsed = parse_funnel_text(text)
    used = {s.line for s in parsed.stages} | {u.line for u in parsed.unparsed}
    used |= {n for s in parsed.stages for n, line in enumerate(text.split("\n"), 1) if line.strip() in s.text}
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            assert number in used or any(line.strip() in s.text for s in parsed.stages), line


def test_a_number_followed_by_stray_words_is_not_a_stage() -> None:
    text = "Visits - 10,000/week\nSignups - 5,000/month (12%)\nPaid - 90 (7.5%)\nfoo bar 77 baz"
    parsed = parse_funnel_text(text)
    assert [s.name for s in parsed.stages] == ["Visits", "Signups", "Paid"]
    assert [(u.line, u.text) for u in parsed.unparsed] == [(4, "foo bar 77 baz")]
    assert "not a unit or period" in parsed.unparsed[0].reason
    # Units, periods and plural words after the count still make a stage on such a line.
    kept = parse_funnel_text("Visits 10k this month\nTrials 1,500 started\nPaid 90 customers\nDemo 40 booked")
    assert [(s.name, s.count.value if s.count else None) for s in kept.stages] == [
        ("Visits", 10_000),
        ("Trials", 1_500),
        ("Paid", 90),
        ("Demo", 40),
    ]
