"""Fixtures of the SDK conformance tests: start the cairn-sim binary on a free port, make
Microsoft's host names resolve to it inside this process, and trust its CA."""

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

MICROSOFT_HOSTS = {
    "login.microsoftonline.com", "graph.microsoft.com", "outlook.office365.com",
    "login.microsoftonline.us", "graph.microsoft.us", "dod-graph.microsoft.us",
    "outlook.office365.us", "outlook-dod.office365.us", "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn", "microsoftgraph.chinacloudapi.cn",
    "partner.outlook.cn", "login.microsoftonline.de", "graph.microsoft.de",
    "outlook.office.de",
}


class Sim:
    def __init__(self, port, state_dir):
        self.port = port
        self.state_dir = Path(state_dir)
        self.ca = str(self.state_dir / "ca.pem")

    def authority(self, tenant, host="login.microsoftonline.com"):
        return f"https://{host}:{self.port}/{tenant}"

    def graph_base(self, host="graph.microsoft.com"):
        return f"https://{host}:{self.port}/v1.0"


@pytest.fixture(scope="session")
def sim():
    binary = os.environ.get("CAIRN_SIM_BIN", str(ROOT / "target" / "debug" / "cairn-sim"))
    state = tempfile.mkdtemp(prefix="cairn-sim-conformance-")
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--state-dir", state,
         "--scenario", str(HERE / "scenario.toml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    first = proc.stdout.readline().strip()
    if not first.startswith("listening "):
        proc.kill()
        raise RuntimeError(f"cairn-sim did not start: {first!r} {proc.stderr.read()}")
    port = int(first.rsplit(":", 1)[1])
    sim_port = port
    assert (Path(state) / "endpoint").read_text().strip() == f"127.0.0.1:{port}"

    real = socket.getaddrinfo

    def resolve(host, port=None, *args, **kwargs):
        # Production host names, simulator address: the only change a client needs. Like
        # reqwest's resolve override, a name without a port (443) reaches the simulator's.
        name = host.decode() if isinstance(host, bytes) else host  # anyio passes IDNA bytes
        if isinstance(name, str) and name.lower() in MICROSOFT_HOSTS:
            host = "127.0.0.1"
            if port in (443, "443", "https", None):
                port = sim_port
        return real(host, port, *args, **kwargs)

    socket.getaddrinfo = resolve
    ca = str(Path(state) / "ca.pem")
    old = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    os.environ["REQUESTS_CA_BUNDLE"] = ca
    os.environ["SSL_CERT_FILE"] = ca
    try:
        yield Sim(port, state)
    finally:
        socket.getaddrinfo = real
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(state, ignore_errors=True)
