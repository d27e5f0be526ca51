"""Pytest pieces shared by the suites that run corecastd (tests/collector, tests/tls):
build checks, real cores or a skip, the background-process registry, and the teardown
that stops every daemon with SIGTERM and insists it exits 0.  The conftest files import
what they use; ccharness.py stays free of pytest for the benchmarks."""
import pytest

import ccharness as H


def need(path):
    """Fail (not error) the test when a binary it runs is not built."""
    if not path.exists():
        pytest.fail(f"{path} is not built (run `make`)", pytrace=False)


def core_or_skip(tmp_path_factory, name, **kw):
    """A real crasher core made in a fresh directory; skip when this machine gives none."""
    need(H.CRASHER)
    try:
        return H.make_core(tmp_path_factory.mktemp(name), **kw)
    except H.CoreUnavailable as e:
        pytest.skip(str(e))


def stop_daemons(daemons):
    """Teardown: SIGTERM each daemon still running; fail naming any that did not exit 0."""
    failures = []
    for d in daemons:
        if d.alive():
            rc = d.stop()
            if rc != 0:
                failures.append(f"corecastd ({d.workdir}) exited {rc} on SIGTERM:\n"
                                + d.log_text()[-2000:])
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


@pytest.fixture
def procs():
    """Registry of background processes (senders, proxies) killed at teardown."""
    started = []
    yield started
    for p in started:
        proc = getattr(p, "proc", p)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
