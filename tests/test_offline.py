"""precode never touches the network when its models are local: the demo runs with sockets blocked."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

from .conftest import CODEBOOKS, CORPORA, ROOT

BLOCK = textwrap.dedent("""
    import socket, sys
    def refuse(*a, **k):
        raise OSError("network access attempted during an offline run")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    from pipeline.cli import app
    sys.argv = ["precode", *sys.argv[1:]]
    app()
""")


def test_offline_demo_runs_with_sockets_blocked(tmp_path):
    shutil.copytree(CORPORA, tmp_path / "corpora")
    (tmp_path / "configs").mkdir()
    shutil.copytree(CODEBOOKS, tmp_path / "configs" / "codebooks")
    shutil.copy(ROOT / "configs" / "demo.yaml", tmp_path / "configs" / "demo.yaml")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no HF_HUB_OFFLINE: precode must set it itself
    r = subprocess.run([sys.executable, "-c", BLOCK, "run", str(tmp_path / "configs" / "demo.yaml"), "-q"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "network access attempted" not in r.stderr
    assert (tmp_path / "outputs" / "demo" / "coded_segments.csv").exists()
