"""Shared fixtures: a small seeded demo dataset (generated once per test worker), a no-network guard and a
clean environment (the tests must pass the same on any machine, whatever its shell has set)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

DEMO_CUSTOMERS = 20_000
DEMO_SEED = 42

# Property tests: no per-example deadline (a first example that imports scipy/statsmodels is slow on a busy
# machine). CI (.ci/run sets HYPOTHESIS_PROFILE=ci) also derandomises, so a red build is reproducible.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# Variables that would change what the code under test does: our own config, the LLM endpoint, proxies (the
# OpenAI client would send the fake local servers' traffic to them) and terminal settings (colour, width).
_SCRUBBED_PREFIXES = ("JOURNEY_", "OPENAI_", "FORCE_COLOR", "COLUMNS", "LINES", "TERM_PROGRAM")
_SCRUBBED_PROXIES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove variables that would make a test depend on the machine's shell."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED_PREFIXES) or name.lower() in _SCRUBBED_PROXIES:
            monkeypatch.delenv(name, raising=False)


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
        pytest.skip("PySpark tests need Java 17+ (apt-get install openjdk-17-jre-headless)")
    warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
    pyspark_sql = pytest.importorskip("pyspark.sql")
    import ibis
    from pyspark.errors import PySparkException

    from tools.dataset import set_utc

    try:
        session = (
            pyspark_sql.SparkSession.builder.master("local[2]")
            .appName("journey-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", "2g")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    except (PySparkException, OSError) as exc:  # the JVM did not start: an old Java, too little memory
        pytest.skip(f"PySpark could not start a local session ({type(exc).__name__}: {str(exc)[:200]}); needs Java 17+")
    session.sparkContext.setLogLevel("ERROR")
    con = ibis.pyspark.connect(session)
    set_utc(con)
    yield con
    session.stop()
