"""``journey demo-data`` and ``journey demo``: the offline main job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``demo-data`` and ``demo``."""

    @app.command("demo-data")
    def demo_data(
        customers: Annotated[int, typer.Option(help="Number of customers to generate.")] = 20_000,
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 42,
        out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo"),
        anomaly: Annotated[
            bool, typer.Option(help="Plant the anomalous day (--no-anomaly for a calm dataset).")
        ] = True,
    ) -> None:
        """Seeded synthetic events + feedback with planted, documented truths (see truth.json)."""
        from assistant.demo import write_demo_data

        write_demo_data(customers=customers, seed=seed, out=out, anomaly=anomaly)

    @app.command()
    def demo(
        out: Annotated[Path, typer.Option(help="Folder for the demo data and outputs.")] = Path("demo"),
        customers: Annotated[int, typer.Option(help="Number of demo customers.")] = 20_000,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    ) -> None:
        """The main job, offline: demo data -> analyses -> sample questions -> memo."""
        from assistant.demo import run_demo

        run_demo(out=out, customers=customers, seed=seed)
