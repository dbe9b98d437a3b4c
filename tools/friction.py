"""Biggest friction in a funnel, from its step counts, with what a realistic improvement would recover.

Rule: the biggest friction is the transition with the lowest step conversion (customers reaching the step /
customers reaching the previous step); ties go to the transition losing more customers. The transition losing
the most customers in absolute numbers is reported as well (it is often the first step, which is not the same
thing). What-if: raising one transition's rate, with every downstream rate unchanged (the extra customers are
assumed to behave like today's), gives ``entered × new_rate × Π downstream rates`` customers at the final step.
The realistic improvement is winning back 10% of the customers a transition loses (new rate = rate + 10% of
(1 − rate)); a 10% *relative* lift would add the same number at every step, because rates multiply, so it
cannot rank transitions.
"""

from __future__ import annotations

import statistics
from typing import Any

RECOVERED_SHARE = 0.10
RULE = (
    "biggest friction = the transition with the lowest step conversion (ties: more customers lost); "
    "also reported: the transition losing the most customers"
)
WHAT_IF = (
    "extra customers at the final step if this transition won back 10% of the customers it loses, or rose to "
    "the median rate of the other transitions (if higher), with all downstream rates unchanged"
)


def _downstream(rates: list[float | None], start: int) -> float | None:
    product = 1.0
    for rate in rates[start:]:
        if rate is None:
            return None
        product *= rate
    return product


def friction_table(steps: list[str], customers: list[int]) -> list[dict[str, Any]]:
    """One row per transition, the biggest friction first.

    Args:
        steps: step names in funnel order.
        customers: customers reaching each step (same order).
    """
    rates: list[float | None] = [
        customers[k] / customers[k - 1] if customers[k - 1] else None for k in range(1, len(steps))
    ]
    final = customers[-1]
    total_lost = sum(customers[k - 1] - customers[k] for k in range(1, len(steps)))
    rows: list[dict[str, Any]] = []
    for i, rate in enumerate(rates):
        entered, reached = customers[i], customers[i + 1]
        others = [r for j, r in enumerate(rates) if j != i and r is not None]
        median_other = statistics.median(others) if others else None
        downstream = _downstream(rates, i + 1)
        lifted = rate + RECOVERED_SHARE * (1.0 - rate) if rate is not None else None
        to_median = max(rate, median_other) if rate is not None and median_other is not None else None
        rows.append(
            {
                "transition": f"{steps[i]} -> {steps[i + 1]}",
                "entered": entered,
                "reached": reached,
                "conversion": rate,
                "lost": entered - reached,
                "share_of_all_lost": (entered - reached) / total_lost if total_lost else None,
                "extra_final_if_recover_10pct": _extra(entered, lifted, downstream, final),
                "median_other_rate": median_other,
                "extra_final_if_median_rate": _extra(entered, to_median, downstream, final),
            }
        )
    rows.sort(key=lambda r: (r["conversion"] if r["conversion"] is not None else 2.0, -r["lost"]))
    for rank, row in enumerate(rows, start=1):
        row["friction_rank"] = rank
    return rows


def _extra(entered: int, rate: float | None, downstream: float | None, final: int) -> int | None:
    if rate is None or downstream is None:
        return None
    return max(0, round(entered * rate * downstream - final))


def friction_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Scalars naming the biggest friction and the transition losing the most customers."""
    if not rows:
        return {}
    worst = rows[0]
    most = max(rows, key=lambda r: (r["lost"], -(r["conversion"] or 0.0)))
    return {
        "biggest_friction": worst["transition"],
        "biggest_friction_conversion": worst["conversion"],
        "biggest_friction_lost": worst["lost"],
        "biggest_friction_extra_final_if_recover_10pct": worst["extra_final_if_recover_10pct"],
        "biggest_friction_extra_final_if_median_rate": worst["extra_final_if_median_rate"],
        "most_customers_lost": most["transition"],
        "most_customers_lost_count": most["lost"],
    }
