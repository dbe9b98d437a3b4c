"""Time and peak memory of behavioural segments and anomaly detection on demo data.

Usage: .venv/bin/python benchmarks/bench_segments.py --customers 1000000
Targets at 1M customers: segments under 30 s, anomalies under 5 s (loading is timed separately, not counted).
Also reports the adjusted Rand index of the segments against the planted labels and the top anomaly.
"""

from __future__ import annotations

import argparse
import json

from _common import Timer, bench_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7, help="segmentation seed")
    parser.add_argument("--sample", type=int, default=50_000, help="customers in the fitting sample")
    args = parser.parse_args()
    out = bench_data(args.customers)

    import pyarrow.parquet as pq
    from sklearn.metrics import adjusted_rand_score

    from tools.anomalies import anomalies
    from tools.dataset import load_events
    from tools.segments import segment, segments

    timer = Timer(f"segments + anomalies, {args.customers:,} customers")
    dataset = timer.run("load events (not counted in the targets)", lambda: load_events(out / "events.parquet"))
    result = timer.run(
        "segments (features, fit, assign, describe)",
        lambda: segments(dataset, k="auto", seed=args.seed, sample=args.sample),
    )
    found = timer.run("anomalies (daily metrics, baselines, BH)", lambda: anomalies(dataset))
    timer.report()

    seg = segment(dataset, k="auto", seed=args.seed, sample=args.sample)  # cached: no recomputation
    truth = pq.read_table(out / "segments_truth.parquet").to_pandas().set_index("customer_id")["segment"]
    planted = truth.loc[seg.features.customer_ids.astype(str)].to_numpy()
    print(f"\nevents: {dataset.summary()['events']:,}; customers: {seg.features.n:,}; k = {seg.k}")
    print(f"adjusted Rand index vs planted segments: {adjusted_rand_score(planted, seg.labels):.3f}")
    for row in result.result["segments"]:
        print(f"  {row['segment']}. {row['name']:<45} {row['customers']:>9,}  conv {row['conversion_rate']:.1%}")
    planted_day = json.loads((out / "truth.json").read_text()).get("anomaly", {}).get("date")
    rows = found.result["anomalies"]
    print(f"anomalies: {found.result['status']} (planted: {planted_day})")
    for row in rows[:5]:
        print(
            f"  {row['date']} {row['metric']:<32} value {row['value']:>12,.2f} expected {row['expected']:>12,.2f}"
            f" score {row['score']:>7.2f} q {row['q_value']:.2g}"
        )


if __name__ == "__main__":
    main()
