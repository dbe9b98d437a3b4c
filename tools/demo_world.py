"""The simulated customer world behind the demo data: segments, journeys, touches and events.

Everything is vectorised over customers (numpy arrays, no Python loop per customer or per event). Times are
float seconds since ``PERIOD_START`` until the very end, where they are floored to whole seconds (flooring is
monotone, so the order of a customer's stages survives it). Every planted number lives in a module constant
below; ``tools.demo_data`` mirrors them into truth.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

# --- the period -------------------------------------------------------------------------------------------
PERIOD_START = np.datetime64("2024-01-01T00:00:00", "s")  # a Monday
PERIOD_DAYS = 49
PERIOD_END_S = PERIOD_DAYS * 86_400 - 1  # 2024-02-18T23:59:59, in seconds since PERIOD_START
WEEKEND_FACTOR = 0.7  # weekend days get ~30% fewer arrivals
# Relative arrivals per UTC hour: quiet nights, busy afternoons and evenings.
HOUR_WEIGHTS = (1.0, 0.7, 0.5, 0.4, 0.4, 0.5, 0.8, 1.2, 1.8, 2.4, 2.8, 3.0,
                3.0, 3.0, 3.0, 3.0, 3.2, 3.4, 3.6, 3.4, 3.0, 2.5, 2.0, 1.5)  # fmt: skip

# --- journeys ---------------------------------------------------------------------------------------------
STAGES = ("visit", "product_view", "signup", "pricing", "demo", "purchase")
CONVERSION_EVENT = "purchase"
TRANSITIONS = tuple(f"{a}->{b}" for a, b in pairwise(STAGES))
SEGMENTS = ("fast_converters", "researchers", "bouncers")
SEGMENT_SHARES = (0.20, 0.35, 0.45)
# P(next stage | this stage) for the 5 transitions visit->product_view ... demo->purchase, without email.
# pricing->demo (index 3) is the planted friction: by far the weakest transition in every segment.
TRANSITION_PROBS: dict[str, tuple[float, ...]] = {
    "fast_converters": (0.97, 0.85, 0.88, 0.32, 0.80),
    "researchers": (0.92, 0.60, 0.65, 0.18, 0.55),
    "bouncers": (0.35, 0.15, 0.45, 0.03, 0.35),
}
FRICTION = ("pricing", "demo")
# Gap between consecutive stages: lognormal with this median (hours) and log-sd, plus one minute.
GAP_MEDIAN_HOURS = {"fast_converters": 1.0, "researchers": 48.0, "bouncers": 3.0}
GAP_SIGMA = {"fast_converters": 0.6, "researchers": 0.6, "bouncers": 1.0}
# Activity continues a while after the last stage reached (fillers land in the journey window).
TAIL_MEDIAN_HOURS = {"fast_converters": 1.0, "researchers": 48.0, "bouncers": 0.3}
REVENUE_MEAN = {"fast_converters": 800.0, "researchers": 450.0, "bouncers": 220.0}
REVENUE_SIGMA = 0.45  # log-sd of the lognormal order value

# --- acquisition ------------------------------------------------------------------------------------------
ENTRY_CHANNELS = ("organic_search", "paid_search", "social", "referral")
ENTRY_SHARES = (0.35, 0.30, 0.20, 0.15)
PAID_SEARCH_CAMPAIGNS = ("brand_search", "generic_search", "competitor_search")
# Additive shift of P(product_view -> signup) by entry channel (a mild, realistic channel-quality effect).
ENTRY_SIGNUP_SHIFT = {"organic_search": 0.0, "paid_search": 0.0, "social": -0.05, "referral": 0.05}
# Repeat visits (0-2 extra per customer): Poisson rate by segment, channel mix (None = direct, no channel).
REPEAT_VISIT_RATE = {"fast_converters": 0.2, "researchers": 1.5, "bouncers": 0.2}
REPEAT_VISIT_MAX = 2
# Repeat visits are direct (no channel): their timing follows the journey's length, so a channel on them would be
# an exposure that depends on the future outcome and no estimator could recover its true (zero) effect.
REPEAT_CHANNELS: tuple[str | None, ...] = (None,)
REPEAT_CHANNEL_SHARES = (1.0,)
# Paid-search retouches (event touch): a random 20% of all customers, 1-24 hours after arrival, no causal effect.
PAID_RETOUCH_PROBABILITY = 0.20
PAID_RETOUCH_HOURS = (1.0, 24.0)

# --- the randomised email and the targeted retargeting ----------------------------------------------------
EMAIL_PROBABILITY = 0.4  # among customers who reached signup, independent of everything else
EMAIL_CAMPAIGNS = ("nurture_a", "nurture_b")
EMAIL_EFFECT = (0.0, 0.0, 0.0, 0.12, 0.08)  # absolute lift per transition: pricing->demo, demo->purchase
EMAIL_DELAY_HOURS = 24.0  # median delay after signup (always before pricing and within the period)
RETARGETING_PROBABILITY = 0.7  # only among customers who reached pricing
RETARGETING_CAMPAIGN = "rt_pricing"
RETARGETING_DELAY_HOURS = 3.0

# --- the anomalous day ------------------------------------------------------------------------------------
ANOMALY_DATE = "2024-02-14"
ANOMALY_MULTIPLIER = 0.25  # P(product_view -> signup) when the product view or the signup attempt is that day

# --- fillers ----------------------------------------------------------------------------------------------
# Poisson rate of each filler event per customer; login only after signup.
FILLER_RATES: dict[str, dict[str, float]] = {
    "fast_converters": {"page_view": 1.5, "login": 1.0, "support_ticket": 0.1, "help_center": 0.2},
    "researchers": {"page_view": 12.0, "login": 2.5, "support_ticket": 0.6, "help_center": 2.5},
    "bouncers": {"page_view": 1.0, "login": 0.5, "support_ticket": 0.03, "help_center": 0.1},
}
FILLERS = ("page_view", "login", "support_ticket", "help_center")
RESEARCHER_EXTRA_VIEWS = (2, 7)  # extra product views after the first (inclusive): 3-8 in all

DEVICES = ("mobile", "desktop", "tablet")
DEVICE_SHARES = (0.55, 0.35, 0.10)
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "IN", "BR")
COUNTRY_SHARES = (0.40, 0.12, 0.10, 0.08, 0.08, 0.06, 0.08, 0.08)

# Codes used in the event arrays (index into these tuples; -1 means null).
EVENT_NAMES = (*STAGES, *FILLERS, "touch")
CHANNEL_NAMES = (*ENTRY_CHANNELS, "email", "retargeting")
CAMPAIGN_NAMES = (*PAID_SEARCH_CAMPAIGNS, *EMAIL_CAMPAIGNS, RETARGETING_CAMPAIGN)


@dataclass
class World:
    """Per-customer truth and the flat event arrays of one simulation.

    Attributes:
        segment: segment code per customer (index into ``SEGMENTS``).
        entry: entry channel code per customer (index into ``ENTRY_CHANNELS``).
        device, country: codes into ``DEVICES`` / ``COUNTRIES``.
        stage_time: (customers, 6) seconds since ``PERIOD_START`` of each stage's event; NaN when absent.
        email: customers with an email touch (assigned and reached signup in the period).
        retargeted: customers with a retargeting touch.
        y0, y1: purchase within the period without / with the email (common random numbers).
        ev_*: flat event arrays (customer index, whole seconds, event/channel/campaign codes, revenue or NaN).
    """

    segment: np.ndarray
    entry: np.ndarray
    device: np.ndarray
    country: np.ndarray
    stage_time: np.ndarray
    email: np.ndarray
    retargeted: np.ndarray
    y0: np.ndarray
    y1: np.ndarray
    ev_customer: np.ndarray
    ev_time: np.ndarray
    ev_event: np.ndarray
    ev_channel: np.ndarray
    ev_campaign: np.ndarray
    ev_revenue: np.ndarray


def _per_segment(values: dict[str, float], segment: np.ndarray) -> np.ndarray:
    return np.array([values[s] for s in SEGMENTS], dtype=float)[segment]


def _lognormal_hours(rng: np.random.Generator, median_h: np.ndarray | float, sigma: float, n: int) -> np.ndarray:
    """Lognormal durations in seconds with the given median (hours)."""
    return np.exp(np.log(np.asarray(median_h) * 3600.0) + sigma * rng.standard_normal(n))


def _arrivals(rng: np.random.Generator, n: int) -> np.ndarray:
    days = np.arange(PERIOD_DAYS)
    day_w = np.where(days % 7 >= 5, WEEKEND_FACTOR, 1.0)  # day 0 is a Monday
    hour_w = np.asarray(HOUR_WEIGHTS)
    day = rng.choice(PERIOD_DAYS, size=n, p=day_w / day_w.sum())
    hour = rng.choice(24, size=n, p=hour_w / hour_w.sum())
    return day * 86_400.0 + hour * 3600.0 + rng.random(n) * 3600.0


def _before_end(start: np.ndarray, delay: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """``start + delay``, pulled to a random point before the period end when it would fall after it."""
    return start + np.minimum(delay, frac * (PERIOD_END_S - start))


class _Events:
    """Accumulates event blocks (parallel arrays) before one concatenation."""

    def __init__(self) -> None:
        self.blocks: list[tuple[np.ndarray, ...]] = []

    def add(
        self,
        customer: np.ndarray,
        time: np.ndarray,
        event: str,
        channel: np.ndarray | int = -1,
        campaign: np.ndarray | int = -1,
        revenue: np.ndarray | None = None,
    ) -> None:
        n = customer.size
        code = EVENT_NAMES.index(event)
        self.blocks.append(
            (
                customer.astype(np.int64),
                time,
                np.full(n, code, dtype=np.int8),
                np.broadcast_to(np.asarray(channel, dtype=np.int8), (n,)),
                np.broadcast_to(np.asarray(campaign, dtype=np.int8), (n,)),
                np.full(n, np.nan) if revenue is None else revenue,
            )
        )

    def spread(
        self,
        rng: np.random.Generator,
        counts: np.ndarray,
        start: np.ndarray,
        span: np.ndarray,
        event: str,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``counts[c]`` events per customer at uniform times in ``[start[c], start[c] + span[c]]``."""
        customer = np.repeat(np.arange(counts.size), counts)
        time = start[customer] + rng.random(customer.size) * span[customer]
        self.add(customer, time, event)
        return customer, time

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Concatenate, drop events after the period end, floor to seconds, sort by customer, time, event."""
        cols = [np.concatenate([b[i] for b in self.blocks]) for i in range(6)]
        keep = cols[1] <= PERIOD_END_S
        cols = [c[keep] for c in cols]
        cols[1] = np.floor(cols[1]).astype(np.int64)
        # One int64 sort key (customer | second | event code) is ~10x faster than a 3-key lexsort; the
        # stable sort also profits from the blocks already being in customer order.
        key = (cols[0] << 27) | (cols[1] << 4) | cols[2].astype(np.int64)
        order = np.argsort(key, kind="stable")
        return tuple(c[order] for c in cols)


def simulate(n: int, rng: np.random.Generator, anomaly: bool = True) -> World:
    """Simulate ``n`` customers' journeys over the period.

    Args:
        n: number of customers.
        rng: the seeded generator (draw order is fixed, so a seed fixes the world).
        anomaly: plant the broken-signup day ``ANOMALY_DATE``.
    """
    segment = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARES).astype(np.int8)
    entry = rng.choice(len(ENTRY_CHANNELS), size=n, p=ENTRY_SHARES).astype(np.int8)
    device = rng.choice(len(DEVICES), size=n, p=DEVICE_SHARES).astype(np.int8)
    country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_SHARES).astype(np.int8)
    arrival = _arrivals(rng, n)

    # Candidate time of every stage, as if the customer went all the way (used only where reached).
    gap_sigma = _per_segment(GAP_SIGMA, segment)[:, None]
    gap_median = np.log(_per_segment(GAP_MEDIAN_HOURS, segment) * 3600.0)[:, None]
    gaps = np.exp(gap_median + gap_sigma * rng.standard_normal((n, 5))) + 60.0
    cand = np.empty((n, 6))
    cand[:, 0] = arrival
    cand[:, 1:] = arrival[:, None] + np.cumsum(gaps, axis=1)

    # Transition probabilities without (p0) and with (p1) the email.
    p0 = np.array([TRANSITION_PROBS[s] for s in SEGMENTS])[segment]
    p0[:, 1] += np.array([ENTRY_SIGNUP_SHIFT[c] for c in ENTRY_CHANNELS])[entry]
    if anomaly:
        day_start = (np.datetime64(ANOMALY_DATE, "s") - PERIOD_START).astype(np.int64)
        on_day = ((cand[:, 1] >= day_start) & (cand[:, 1] < day_start + 86_400)) | (
            (cand[:, 2] >= day_start) & (cand[:, 2] < day_start + 86_400)
        )
        p0[on_day, 1] *= ANOMALY_MULTIPLIER
    p1 = np.clip(p0 + np.asarray(EMAIL_EFFECT), 0.0, 1.0)
    p0 = np.clip(p0, 0.0, 1.0)

    # Common random numbers: one uniform per transition drives both potential journeys.
    u = rng.random((n, 5))
    reach0 = np.ones((n, 6), dtype=bool)
    reach1 = np.ones((n, 6), dtype=bool)
    reach0[:, 1:] = np.cumprod(u < p0, axis=1).astype(bool)
    reach1[:, 1:] = np.cumprod(u < p1, axis=1).astype(bool)
    in_period = cand <= PERIOD_END_S
    assigned = rng.random(n) < EMAIL_PROBABILITY
    email = assigned & reach0[:, 2] & in_period[:, 2]
    reach = np.where(email[:, None], reach1, reach0)
    observed = reach & in_period
    y0 = reach0[:, 5] & in_period[:, 5]
    y1 = reach1[:, 5] & in_period[:, 5]
    stage_time = np.where(observed, cand, np.nan)

    ev = _Events()
    for k, stage in enumerate(STAGES):
        who = np.flatnonzero(observed[:, k])
        if stage == "visit":
            camp = np.where(
                entry == ENTRY_CHANNELS.index("paid_search"),
                rng.integers(0, len(PAID_SEARCH_CAMPAIGNS), n),
                -1,
            )
            ev.add(who, arrival[who], stage, channel=entry[who], campaign=camp[who])
        elif stage == CONVERSION_EVENT:
            mean = _per_segment(REVENUE_MEAN, segment[who])
            mu = np.log(mean) - REVENUE_SIGMA**2 / 2
            revenue = np.round(np.exp(mu + REVENUE_SIGMA * rng.standard_normal(who.size)), 2)
            ev.add(who, cand[who, k], stage, revenue=revenue)
        else:
            ev.add(who, cand[who, k], stage)

    # The journey window: first visit to a while after the last stage reached (fillers land in it).
    last = cand[np.arange(n), reach.sum(axis=1) - 1]
    tail = _lognormal_hours(rng, _per_segment(TAIL_MEDIAN_HOURS, segment), 0.8, n)
    span = last + tail - arrival

    # Email: ~1 day after signup, always before the (candidate) pricing time and inside the period.
    who = np.flatnonzero(email)
    delay = np.minimum(
        _lognormal_hours(rng, EMAIL_DELAY_HOURS, 0.4, who.size),
        rng.uniform(0.2, 0.9, who.size) * (cand[who, 3] - cand[who, 2]),
    )
    t_email = _before_end(cand[who, 2], delay, rng.uniform(0.2, 0.9, who.size))
    camp = CAMPAIGN_NAMES.index(EMAIL_CAMPAIGNS[0]) + rng.integers(0, len(EMAIL_CAMPAIGNS), who.size)
    ev.add(who, t_email, "touch", channel=CHANNEL_NAMES.index("email"), campaign=camp)

    # Retargeting: only customers who reached pricing, a few hours later; no causal effect at all.
    retargeted = observed[:, 3] & (rng.random(n) < RETARGETING_PROBABILITY)
    who = np.flatnonzero(retargeted)
    delay = _lognormal_hours(rng, RETARGETING_DELAY_HOURS, 0.6, who.size)
    t_rt = _before_end(cand[who, 3], delay, rng.uniform(0.05, 1.0, who.size))
    ev.add(
        who,
        t_rt,
        "touch",
        channel=CHANNEL_NAMES.index("retargeting"),
        campaign=CAMPAIGN_NAMES.index(RETARGETING_CAMPAIGN),
    )

    # Paid-search retouches: assigned at random and timed from arrival only, never from later progress, so the
    # planted zero effect is recoverable (exposure that depends on the future cannot be de-confounded).
    who = np.flatnonzero(rng.random(n) < PAID_RETOUCH_PROBABILITY)
    t_paid = arrival[who] + 3600.0 * rng.uniform(*PAID_RETOUCH_HOURS, who.size)
    ev.add(
        who,
        t_paid,
        "touch",
        channel=ENTRY_CHANNELS.index("paid_search"),
        campaign=rng.integers(0, len(PAID_SEARCH_CAMPAIGNS), who.size),
    )

    # Repeat visits after the first, some with a channel (the rest direct).
    counts = np.minimum(rng.poisson(_per_segment(REPEAT_VISIT_RATE, segment)), REPEAT_VISIT_MAX)
    cust = np.repeat(np.arange(n), counts)
    t_rep = arrival[cust] + rng.uniform(0.02, 1.5, cust.size) * span[cust]
    ch = rng.choice(len(REPEAT_CHANNELS), size=cust.size, p=REPEAT_CHANNEL_SHARES)
    ch_code = np.array([-1 if c is None else ENTRY_CHANNELS.index(c) for c in REPEAT_CHANNELS])[ch]
    paid = ch_code == ENTRY_CHANNELS.index("paid_search")
    camp = np.where(paid, rng.integers(0, len(PAID_SEARCH_CAMPAIGNS), cust.size), -1)
    ev.add(cust, t_rep, "visit", channel=ch_code, campaign=camp)

    # Researchers keep viewing products after the first view.
    lo, hi = RESEARCHER_EXTRA_VIEWS
    extra = rng.integers(lo, hi + 1, n) * (reach[:, 1] & (segment == SEGMENTS.index("researchers")))
    pv_start = np.where(reach[:, 1], cand[:, 1], arrival)
    ev.spread(rng, extra, pv_start, np.maximum(arrival + span - pv_start, 60.0), "product_view")

    # Fillers: page views and help-center visits anywhere in the journey; logins and tickets after signup.
    signup_start = np.where(reach[:, 2], cand[:, 2], arrival)
    after_signup = np.maximum(arrival + span - signup_start, 60.0)
    for filler in FILLERS:
        rate = np.array([FILLER_RATES[s][filler] for s in SEGMENTS])[segment]
        counts = rng.poisson(rate)
        if filler in ("login", "support_ticket"):
            counts = counts * reach[:, 2]
            ev.spread(rng, counts, signup_start, after_signup, filler)
        else:
            ev.spread(rng, counts, arrival, span, filler)

    cols = ev.arrays()
    return World(
        segment=segment,
        entry=entry,
        device=device,
        country=country,
        stage_time=stage_time,
        email=email,
        retargeted=retargeted,
        y0=y0,
        y1=y1,
        ev_customer=cols[0],
        ev_time=cols[1],
        ev_event=cols[2],
        ev_channel=cols[3],
        ev_campaign=cols[4],
        ev_revenue=cols[5],
    )
