"""Shared fixtures: a small seeded demo dataset (generated once per test worker) and a no-network guard."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DEMO_CUSTOMERS = 20_000
DEMO_SEED = 42


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo data (events, feedback, truth.json) with planted truths: 20k customers, seed 42."""
    from tools.demo_data import generate

    out = tmp_path_factory.mktemp("demo")
    generate(customers=DEMO_CUSTOMERS, seed=DEMO_SEED, out=out)
    return out


@pytest.fixture(scope="session")
def calm_demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same world with no planted anomalous day."""
    from tools.demo_data import generate

    out = tmp_path_factory.mktemp("calm")
    generate(customers=DEMO_CUSTOMERS, seed=DEMO_SEED + 1, out=out, anomaly=False)
    return out


@pytest.fixture(scope="session")
def demo_truth(demo_dir: Path) -> dict[str, Any]:
    import json

    return json.loads((demo_dir / "truth.json").read_text())


@pytest.fixture(scope="session")
def demo_dataset(demo_dir: Path) -> Any:
    """The demo events loaded on DuckDB (shared read-only by the tests of one worker)."""
    from tools.dataset import load_events

    return load_events(demo_dir / "events.parquet")


class _NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection to a non-loopback address: tests never touch the network."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("localhost", "::1", socket.gethostname()) or host.startswith("/")
        ):
            raise _NetworkBlocked(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield


@pytest.fixture(scope="session")
def spark_con() -> Iterator[Any]:
    """One shared PySpark local-mode session wrapped as an Ibis backend (needs Java 17)."""
    import shutil
    import warnings

    if shutil.which("java") is None:
        pytest.skip("PySpark tests need Java (apt-get install openjdk-17-jre-headless)")
    warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
    pyspark_sql = pytest.importorskip("pyspark.sql")
    import ibis

    from tools.dataset import set_utc

    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("journey-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    con = ibis.pyspark.connect(session)
    set_utc(con)
    yield con
    session.stop()
