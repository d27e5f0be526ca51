"""Fixtures for the dtls/tls end-to-end tests: certificates made at test time, one real
crasher core, and corecastd instances with udp, dtls and tls listeners side by side.
Every daemon is stopped with SIGTERM at teardown and must exit 0."""
import pytest

import tlscerts
import tlsharness as T
from ccfixtures import core_or_skip, need, procs, stop_daemons  # noqa: F401 (procs: fixture)

H = T.H


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    return tlscerts.make_fleet(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def tls_core(tmp_path_factory):
    """A real SIGSEGV core of the crasher (its heap holds T.MARKER)."""
    return core_or_skip(tmp_path_factory, "tls-core")


@pytest.fixture(scope="session")
def big_tls_core(tmp_path_factory):
    """A real crasher core with 16 MiB of incompressible ballast."""
    return core_or_skip(tmp_path_factory, "tls-core-big", alloc_mib=16)


@pytest.fixture
def make_tls_daemon(tmp_path, certs):
    """Factory: corecastd on udp+dtls+tls with the fleet certificates configured and a
    key store holding dev-psk (T.PSK) and the fleet device certificate."""
    for p in (H.CORECASTD, H.CORECASTCTL, H.SEND):
        need(p)
    daemons = []

    def start(name="ccd", extra="", listen=None, enroll=True, symbolize=0):
        d = T.TlsDaemon(tmp_path / name, listen=listen or
                        ["udp://127.0.0.1:0", "dtls://127.0.0.1:0", "tls://127.0.0.1:0"])
        d.write_config(f"""
TLSCertificate={certs['server_crt']}
TLSKey={certs['server_key']}
TLSCA={certs['ca']}
SymbolizeWorkers={symbolize}
{extra}
""")
        d.store.mkdir(parents=True, exist_ok=True)
        if enroll:
            for args in (("add", "dev-psk", "--psk", T.PSK),
                         ("add", certs["device"], "--cert", certs["dev_crt"])):
                p = T.ctl_devices(d.store, *args)
                assert p.returncode == 0, p.stderr
        d.start()
        daemons.append(d)
        return d
    yield start
    stop_daemons(daemons)
