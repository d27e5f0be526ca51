"""Fixtures for the collector end-to-end tests: real corecastd processes on loopback
with temporary stores, the impairment proxy, and real cores from the crasher.

Every daemon a test starts is stopped at teardown with SIGTERM and must exit 0 (the
"drains cleanly" promise); processes a test leaves running are killed.
"""
import pytest

import ccharness as H
from ccfixtures import core_or_skip, need, procs, stop_daemons  # noqa: F401 (procs: fixture)


@pytest.fixture(scope="session")
def collector_built():
    for p in (H.CORECASTD, H.CORECASTCTL, H.SEND, H.IMPAIR, H.CRASHER):
        need(p)


@pytest.fixture(scope="session")
def core(tmp_path_factory):
    """A real SIGSEGV core of the multi-threaded crasher (about 0.7 MB)."""
    return core_or_skip(tmp_path_factory, "core-small")


@pytest.fixture(scope="session")
def medium_core(tmp_path_factory):
    """A real core with 4 MiB of incompressible ballast: thousands of datagrams."""
    return core_or_skip(tmp_path_factory, "core-medium", alloc_mib=4)


@pytest.fixture(scope="session")
def big_core(tmp_path_factory):
    """A real core with 24 MiB of incompressible ballast, for slow, long transfers."""
    return core_or_skip(tmp_path_factory, "core-big", alloc_mib=24)


@pytest.fixture
def make_daemon(tmp_path, collector_built):
    """Factory: make_daemon(config=None, listen=None, name='ccd') -> started H.Daemon."""
    daemons = []

    def start(config=None, listen=None, name="ccd", store=None):
        d = H.Daemon(tmp_path / name, store=store, listen=listen)
        if config:
            d.write_config(config)
        d.start()
        daemons.append(d)
        return d
    yield start
    stop_daemons(daemons)


@pytest.fixture
def daemon(make_daemon):
    """One corecastd on 127.0.0.1, ephemeral port, default limits."""
    return make_daemon()


def check_sent(p, what="corecast-send"):
    """Assert a finished corecast-send run exited 0, showing its output if not."""
    out = (p.stdout or b"") + (p.stderr or b"")
    if isinstance(out, bytes):
        out = out.decode(errors="replace")
    assert p.returncode == 0, f"{what} exited {p.returncode}: {out.strip()}"


@pytest.fixture
def sent_ok():
    return check_sent


def assert_stored_identical(store, core, tmp_path, device=None):
    """Exactly one stored dump of `core` (by SHA-256), and its dump is byte-identical."""
    rows = [r for r in H.list_dumps(store) if device is None or r.get("device") == device]
    assert len(rows) == 1, f"expected one dump, found {rows}"
    row = rows[0]
    assert row["sha256"] == core["sha256"]
    assert int(row["size"]) == core["size"]
    dest = tmp_path / f"dump-{row['id']}.core"
    assert H.dump_to(store, row["id"], dest) == core["sha256"]
    assert dest.read_bytes() == core["path"].read_bytes()
    return row


@pytest.fixture
def stored_identical():
    return assert_stored_identical
