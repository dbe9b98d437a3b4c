"""Customer feedback for the demo world: stage-dependent topics and sentiment, varied templates, some PII.

Vectorised: choices are numpy draws per row; texts are assembled per template (a loop over ~80 templates,
never over rows) by concatenating object arrays.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from tools.demo_world import PERIOD_END_S, STAGES

FEEDBACK_PROBABILITY_BY_FURTHEST_STAGE = (0.08, 0.12, 0.20, 0.25, 0.40, 0.35)  # ~15% of customers overall
SECOND_FEEDBACK_PROBABILITY = 0.2
STAGE_WEIGHTS = (1.0, 1.0, 1.5, 2.0, 6.0, 2.0)  # which reached stage a text is about
FEEDBACK_DELAY_HOURS = 6.0  # median delay after the stage's event
TOPICS = ("pricing", "demo_scheduling", "ease_of_use", "support", "performance")
SENTIMENTS = ("positive", "neutral", "negative")
NEGATIVE_SHARE_BY_STAGE = {
    "visit": 0.25,
    "product_view": 0.25,
    "signup": 0.20,
    "pricing": 0.33,
    "demo": 0.70,
    "purchase": 0.15,
}
NEUTRAL_SHARE_BY_STAGE = {"visit": 0.15, "product_view": 0.15, "signup": 0.15, "pricing": 0.15, "demo": 0.10,
                          "purchase": 0.15}  # fmt: skip
# P(topic | stage), topics in TOPICS order.
TOPIC_BY_STAGE = {
    "visit": (0.20, 0.00, 0.35, 0.15, 0.30),
    "product_view": (0.25, 0.00, 0.35, 0.10, 0.30),
    "signup": (0.10, 0.00, 0.45, 0.20, 0.25),
    "pricing": (0.70, 0.00, 0.10, 0.10, 0.10),
    "demo": (0.10, 0.70, 0.00, 0.15, 0.05),
    "purchase": (0.15, 0.00, 0.30, 0.35, 0.20),
}
RATING_BY_SENTIMENT = {  # P(rating 1..5)
    "positive": (0.0, 0.0, 0.0, 0.45, 0.55),
    "neutral": (0.0, 0.15, 0.70, 0.15, 0.0),
    "negative": (0.60, 0.40, 0.0, 0.0, 0.0),
}
PII_SHARE = 0.03

SLOTS = {
    "plan": ("Starter", "Pro", "Business", "Team", "Enterprise"),
    "amount": ("$19", "$29", "$49", "$99", "$149", "$299"),
    "feature": (
        "dashboard",
        "reports",
        "integrations",
        "onboarding checklist",
        "mobile app",
        "CSV import",
        "journey builder",
        "analytics page",
    ),
    "days": ("two days", "three days", "a week", "4 days", "10 days"),
    "minutes": ("10", "15", "20", "30", "45"),
    "rep": ("the sales rep", "our rep", "the account executive", "the demo host"),
    "product": ("the app", "the platform", "the tool", "your product"),
}

# Phrases a plain VADER lexicon gets wrong are planted on purpose: "rip-off", "hidden fees", "let me down",
# "no help at all" (negative), "exceeded expectations" (positive).
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "pricing": {
        "negative": (
            "The {plan} plan is a total rip-off for what you get.",
            "Hidden fees everywhere: the {plan} plan ended up costing {amount} more than the page said.",
            "Way too expensive. {amount} a month for the {plan} plan is hard to justify.",
            "The pricing page is confusing, I could not tell which plan includes the {feature}.",
            "I was surprised by hidden fees at checkout.",
            "Too many plans and none of them explain what the {feature} costs.",
            "Paying {amount} just to unlock the {feature} feels like a rip-off.",
            "The price jumped after the trial, that really let me down.",
        ),
        "positive": (
            "Fair pricing, the {plan} plan is worth every penny.",
            "Clear plans and no surprises on the bill.",
            "For {amount} a month the {plan} plan exceeded expectations.",
            "Pricing was transparent and the {feature} is included, nice.",
            "Good value compared with what we paid before.",
        ),
        "neutral": (
            "Is there a discount for annual billing on the {plan} plan?",
            "Comparing the {plan} plan with another vendor before we decide.",
            "Would like to see the price of the {feature} add-on listed separately.",
        ),
    },
    "demo_scheduling": {
        "negative": (
            "Couldn't book a demo, every slot was taken for {days}.",
            "Our demo started {minutes} minutes late because {rep} forgot.",
            "I waited {days} for someone to confirm the demo.",
            "The demo booking form kept failing, very frustrating.",
            "Long wait for a demo, we almost gave up.",
            "The demo got rescheduled twice, that let me down.",
            "The demo was too slow and never got to the {feature}.",
            "No one showed up to the demo we booked.",
            "Booking a demo took {days}, no help at all from sales.",
        ),
        "positive": (
            "Booking the demo was quick and {rep} knew the product well.",
            "Great demo, {rep} showed exactly how the {feature} works.",
            "The demo exceeded expectations, clear and on time.",
            "Demo was scheduled within a day, smooth process.",
        ),
        "neutral": (
            "Can we get a demo focused on the {feature}?",
            "We had the demo with {rep}, still evaluating.",
            "Please send the recording of the demo.",
        ),
    },
    "ease_of_use": {
        "negative": (
            "Setup was confusing, I could not find the {feature}.",
            "Took me {days} to figure out the {feature}.",
            "The onboarding let me down, too many steps.",
            "Hard to navigate, the {feature} is buried in menus.",
            "I gave up trying to configure the {feature}.",
        ),
        "positive": (
            "Easy setup, I was running in {minutes} minutes.",
            "Super intuitive, the {feature} just makes sense.",
            "Really easy to use, the whole team picked it up fast.",
            "The {feature} is intuitive and well designed.",
            "Onboarding exceeded expectations, very smooth.",
            "Clean interface, easy to find everything.",
            "Set up {product} in {minutes} minutes without reading the docs.",
        ),
        "neutral": (
            "Is there a keyboard shortcut for the {feature}?",
            "Looking for a guide on how to export from the {feature}.",
            "Tried the {feature} today.",
            "Would like a dark mode in {product}.",
        ),
    },
    "support": {
        "negative": (
            "Contacted support about the {feature}, no help at all.",
            "Waited {days} for a reply from support.",
            "Support closed my ticket without fixing anything.",
            "The help center articles are outdated and no help at all.",
            "Support kept sending me canned answers, it let me down.",
        ),
        "positive": (
            "Helpful support team, they fixed the {feature} issue in {minutes} minutes.",
            "Quick answers from support every time.",
            "The support agent went above and beyond.",
            "Support was friendly and solved my problem fast.",
            "Great help from the support team with the {feature}.",
            "Support exceeded expectations, answered within {minutes} minutes.",
        ),
        "neutral": (
            "Opened a ticket about the {feature}, waiting to hear back.",
            "Is support available on weekends?",
            "Where can I find the support hours?",
            "Asked support about the limits of the {plan} plan.",
        ),
    },
    "performance": {
        "negative": (
            "The app is slow, the {feature} takes ages to load.",
            "It crashes every time I open the {feature}.",
            "Pages take {minutes} seconds to load.",
            "The mobile app keeps crashing on login.",
            "Very laggy when I use the {feature} with lots of data.",
            "Lost my work when {product} crashed.",
            "Slow exports, the {feature} froze twice today.",
        ),
        "positive": (
            "Fast and reliable, the {feature} loads instantly.",
            "No crashes in weeks, rock solid.",
            "Snappy performance even with big reports.",
            "The new version is much faster, nice work.",
        ),
        "neutral": (
            "Noticed the {feature} update today.",
            "Which browsers are supported?",
            "Is there an offline mode for {product}?",
            "Running {product} on a tablet.",
        ),
    },
}
OPENERS = {
    "positive": ("", "", "Wow! ", "Honestly impressed. ", "Quick feedback: "),
    "neutral": ("", "", "Question: ", "Quick note: "),
    "negative": ("", "", "Not happy. ", "Quick feedback: ", "Ugh. "),
}
CLOSERS = {
    "positive": ("", "", " Thanks!", " Keep it up.", " Would recommend."),
    "neutral": ("", "", " Thanks.", " Just my two cents."),
    "negative": ("", "", " Please fix this.", " Considering other options.", " Disappointed."),
}
PII_NAMES = ("jane.doe", "john.smith", "maria.garcia", "li.wei", "sam.taylor", "alex.brown")
PII_DOMAINS = ("example.com", "mail.com", "example.org")
PII_AREAS = ("415", "212", "646", "312", "617")


@dataclass
class Feedback:
    """Feedback rows (sorted by time; ids follow that order) and their truth labels."""

    customer: np.ndarray
    time: np.ndarray  # whole seconds since PERIOD_START
    stage: np.ndarray  # codes into STAGES
    topic: np.ndarray  # codes into TOPICS
    sentiment: np.ndarray  # codes into SENTIMENTS
    rating: np.ndarray
    text: np.ndarray  # object array of str
    pii: np.ndarray  # bool


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row from row-wise (unnormalised) probabilities ``probs`` (rows, k)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return np.char.zfill(rng.integers(0, 10**width, n).astype(str), width).astype(object)


def _pii(rng: np.random.Generator, n: int) -> np.ndarray:
    """One PII sentence per row: an email address, a phone number or a card-like number."""
    kind = rng.integers(0, 3, n)
    names = np.array(PII_NAMES, dtype=object)[rng.integers(0, len(PII_NAMES), n)]
    domains = np.array(PII_DOMAINS, dtype=object)[rng.integers(0, len(PII_DOMAINS), n)]
    email = " You can reach me at " + names + _digits(rng, n, 2) + "@" + domains + "."
    areas = np.array(PII_AREAS, dtype=object)[rng.integers(0, len(PII_AREAS), n)]
    phone = " Call me on +1 " + areas + " 555 " + _digits(rng, n, 4) + "."
    card = (
        " My card 4" + _digits(rng, n, 3) + " " + _digits(rng, n, 4) + " " + _digits(rng, n, 4) + " "
        + _digits(rng, n, 4) + " was charged twice."
    )  # fmt: skip
    return np.where(kind == 0, email, np.where(kind == 1, phone, card))


def _texts(rng: np.random.Generator, topic: np.ndarray, sentiment: np.ndarray) -> np.ndarray:
    n = topic.size
    fills = {k: np.array(v, dtype=object)[rng.integers(0, len(v), n)] for k, v in SLOTS.items()}
    pick = rng.random(n)
    text = np.empty(n, dtype=object)
    formatter = string.Formatter()
    for ti, t in enumerate(TOPICS):
        for si, s in enumerate(SENTIMENTS):
            pool = TEMPLATES[t][s]
            rows = np.flatnonzero((topic == ti) & (sentiment == si))
            which = np.minimum((pick[rows] * len(pool)).astype(np.int64), len(pool) - 1)
            for k, template in enumerate(pool):
                sub = rows[which == k]
                acc = np.full(sub.size, "", dtype=object)
                for literal, field, _, _ in formatter.parse(template):
                    acc = acc + literal
                    if field:
                        acc = acc + fills[field][sub]
                text[sub] = acc
    opener = np.empty(n, dtype=object)
    closer = np.empty(n, dtype=object)
    for si, s in enumerate(SENTIMENTS):
        rows = np.flatnonzero(sentiment == si)
        opener[rows] = np.array(OPENERS[s], dtype=object)[rng.integers(0, len(OPENERS[s]), rows.size)]
        closer[rows] = np.array(CLOSERS[s], dtype=object)[rng.integers(0, len(CLOSERS[s]), rows.size)]
    return opener + text + closer


def simulate_feedback(rng: np.random.Generator, stage_time: np.ndarray) -> Feedback:
    """Draw feedback for customers at stages they reached (``stage_time`` NaN where not reached).

    Args:
        rng: the seeded generator.
        stage_time: (customers, 6) seconds since the period start of each stage's event, NaN when absent.
    """
    n = stage_time.shape[0]
    reached = ~np.isnan(stage_time)
    furthest = reached.sum(axis=1) - 1
    gives = rng.random(n) < np.asarray(FEEDBACK_PROBABILITY_BY_FURTHEST_STAGE)[furthest]
    count = gives.astype(np.int64) + (gives & (rng.random(n) < SECOND_FEEDBACK_PROBABILITY))
    customer = np.repeat(np.arange(n), count)
    stage = _categorical(rng, reached[customer] * np.asarray(STAGE_WEIGHTS))
    delay = np.exp(np.log(FEEDBACK_DELAY_HOURS * 3600.0) + rng.standard_normal(customer.size))
    start = stage_time[customer, stage]
    time = start + np.minimum(delay, rng.uniform(0.05, 1.0, customer.size) * (PERIOD_END_S - start))

    neg = np.array([NEGATIVE_SHARE_BY_STAGE[s] for s in STAGES])[stage]
    neu = np.array([NEUTRAL_SHARE_BY_STAGE[s] for s in STAGES])[stage]
    sentiment = _categorical(rng, np.column_stack([1.0 - neg - neu, neu, neg]))
    topic = _categorical(rng, np.array([TOPIC_BY_STAGE[s] for s in STAGES])[stage])
    rating = 1 + _categorical(rng, np.array([RATING_BY_SENTIMENT[s] for s in SENTIMENTS])[sentiment])
    text = _texts(rng, topic, sentiment)
    pii = rng.random(customer.size) < PII_SHARE
    text[pii] = text[pii] + _pii(rng, int(pii.sum()))

    time = np.floor(time).astype(np.int64)
    order = np.lexsort((customer, time))
    return Feedback(
        customer=customer[order],
        time=time[order],
        stage=stage[order],
        topic=topic[order],
        sentiment=sentiment[order],
        rating=rating[order],
        text=text[order],
        pii=pii[order],
    )
