"""Adapters from marketers' real export formats to flat columns the loader maps like any file.

* **GA4 BigQuery export** (``events_*`` rows as JSONL or Parquet).
* **Segment-spec** calls (JSONL of track/page/screen/identify/alias).

Both produce the standard column names (``customer_id``, ``anonymous_id``, ``timestamp``, ``event``,
``channel``, ``campaign``, ``revenue``) plus a few properties; identity stitching happens in the loader.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from tools.errors import DataError

# medium (lower case) -> channel; the GA4 default channel grouping, simplified and documented.
_MEDIUM_CHANNELS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("cpc", "ppc", "paidsearch", "paid_search", "paid-search", "sem"), "paid_search"),
    (("email", "e-mail", "e_mail", "newsletter"), "email"),
    (("organic",), "organic_search"),
    (("social", "social-network", "social-media", "sm", "social network", "social media"), "organic_social"),
    (("paid_social", "paidsocial", "paid-social", "social_paid", "cpm_social"), "paid_social"),
    (("display", "cpm", "banner", "interstitial"), "display"),
    (("retargeting", "remarketing"), "retargeting"),
    (("affiliate", "affiliates"), "affiliate"),
    (("referral",), "referral"),
    (("sms",), "sms"),
    (("push", "mobile_push", "notification"), "push"),
    (("video", "cpv"), "video"),
)

CHANNEL_RULES = {
    "rule": "channel from (source, medium) like GA4's default channel grouping",
    "mediums": {channel: list(mediums) for mediums, channel in _MEDIUM_CHANNELS},
    "otherwise": "medium '(none)' with source '(direct)' -> direct; any other medium is kept as given",
}


def field(table: ir.Table, path: str, to: str | None = None) -> ir.Value:
    """A nested field by dotted path (``"context.campaign.source"``), or a typed NULL if it is absent.

    Works for struct columns and for JSON columns (DuckDB falls back to JSON for very irregular objects).
    """
    parts = path.split(".")
    if parts[0] not in table.columns:
        return ibis.null(to or "string")
    value: Any = table[parts[0]]
    for part in parts[1:]:
        dtype = value.type()
        if dtype.is_struct():
            if part not in dtype.names:  # type: ignore[attr-defined]
                return ibis.null(to or "string")
            value = value[part]
        elif dtype.is_json():
            value = value[part]
        else:
            return ibis.null(to or "string")
    if value.type().is_json():
        value = value.unwrap_as("string") if to in (None, "string") else value.unwrap_as(to)
    if to is not None and value.type() != dt.dtype(to):
        value = value.try_cast(to)
    return value


def require_columns(raw: ir.Table, names: tuple[str, ...], what: str) -> None:
    """An adapter applied to other data is a clear error, not a crash deep in the mapping."""
    missing = [name for name in names if name not in raw.columns]
    if missing:
        found = ", ".join(raw.columns[:12]) + (", …" if len(raw.columns) > 12 else "")
        raise DataError(
            f"this does not look like {what}: no {', '.join(repr(m) for m in missing)} column; columns found: "
            f"{found}; use --source-format auto (or csv/parquet/json with --map)"
        )


def channel_expr(source: ir.StringValue, medium: ir.StringValue, click_id: ir.Value | None = None) -> ir.Value:
    """Map source/medium (and an ad click id) to a marketing channel; NULL when there is no campaign data."""
    med = medium.lower().strip()
    src = source.lower().strip()
    branches: list[tuple[Any, Any]] = []
    if click_id is not None:
        branches.append((click_id.notnull() & (click_id != ""), ibis.literal("paid_search")))
    for mediums, channel in _MEDIUM_CHANNELS:
        branches.append((med.isin(list(mediums)), ibis.literal(channel)))
    branches.append(((med.isin(["(none)", "none", ""]) | med.isnull()) & (src == "(direct)"), ibis.literal("direct")))
    branches.append((med.isnull() | med.isin(["", "(none)", "(not set)"]), ibis.null("string")))
    return ibis.cases(*branches, else_=med)


def ga4(raw: ir.Table) -> ir.Table:
    """Flatten GA4 BigQuery export rows.

    ``customer_id`` = ``user_id`` when set, else ``user_pseudo_id``; ``anonymous_id`` = ``user_pseudo_id`` so
    that the loader merges a pseudo id seen with a user id into that user. The channel comes from the
    event-scoped ``collected_traffic_source`` (a touch is an event that carried campaign parameters); the
    user-scoped first-touch ``traffic_source`` is kept as ``first_user_source``/``first_user_medium``.
    Revenue: ``ecommerce.purchase_revenue``, else ``event_value_in_usd``.

    Raises:
        DataError: the rows lack the export's identifying columns.
    """
    require_columns(raw, ("event_timestamp", "event_name", "user_pseudo_id"), "a GA4 BigQuery export")
    user_id = field(raw, "user_id").cast("string")
    pseudo = field(raw, "user_pseudo_id").cast("string")
    src = field(raw, "collected_traffic_source.manual_source")
    med = field(raw, "collected_traffic_source.manual_medium")
    gclid = field(raw, "collected_traffic_source.gclid")
    revenue = ibis.coalesce(
        field(raw, "ecommerce.purchase_revenue", "float64"),
        field(raw, "ecommerce.purchase_revenue_in_usd", "float64"),
        field(raw, "event_value_in_usd", "float64"),
    )
    return raw.select(
        customer_id=ibis.coalesce(user_id.nullif(""), pseudo),
        anonymous_id=pseudo,
        timestamp=field(raw, "event_timestamp", "int64"),
        event=field(raw, "event_name"),
        channel=channel_expr(src, med, gclid),
        campaign=field(raw, "collected_traffic_source.manual_campaign_name"),
        revenue=revenue,
        device=field(raw, "device.category"),
        country=field(raw, "geo.country"),
        first_user_source=field(raw, "traffic_source.source"),
        first_user_medium=field(raw, "traffic_source.medium"),
    )


SEGMENT_EVENT_TYPES = ("track", "page", "screen")


def segment(raw: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Flatten Segment-spec calls into (events, identity links).

    ``track`` -> its ``event`` name; ``page`` -> ``page_view``; ``screen`` -> ``screen_view``.
    ``identify``/``alias`` calls are not events: they only link ``anonymousId`` to ``userId``.
    Channel from ``context.campaign.source/medium``, campaign from ``context.campaign.name``,
    revenue from ``properties.revenue``.

    Raises:
        DataError: the rows lack the calls' identifying columns.
    """
    ids = [name for name in ("userId", "anonymousId") if name in raw.columns]
    require_columns(raw, ("type", "timestamp", *(ids[:1] or ["userId"])), "Segment calls")
    kind = field(raw, "type").lower()
    user_id = field(raw, "userId").cast("string")
    anon = field(raw, "anonymousId").cast("string")
    flat = raw.select(
        _kind=kind,
        customer_id=ibis.coalesce(user_id.nullif(""), anon),
        anonymous_id=anon,
        timestamp=field(raw, "timestamp"),
        event=ibis.cases(
            (kind == "track", field(raw, "event")),
            (kind == "page", ibis.literal("page_view")),
            (kind == "screen", ibis.literal("screen_view")),
            else_=kind,
        ),
        channel=channel_expr(field(raw, "context.campaign.source"), field(raw, "context.campaign.medium")),
        campaign=field(raw, "context.campaign.name"),
        revenue=field(raw, "properties.revenue", "float64"),
    )
    events = flat.filter(flat._kind.isin(list(SEGMENT_EVENT_TYPES)) | flat._kind.isnull()).drop("_kind")
    links = flat.filter(flat._kind.isin(["identify", "alias"])).select("customer_id", "anonymous_id")
    return events, links
