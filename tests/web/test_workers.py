"""lstmkit serve --workers: the settings reach each worker process, the cores are shared
out, and a served command answers from its workers and stops them all."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
from lstmkit.web.app import Limits  # noqa: E402
from lstmkit.web.workers import SETTINGS_ENV, app_from_env, settings_json, worker_threads  # noqa: E402


def test_cores_are_shared_out_at_least_one_thread_each(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2, 3}, raising=False)
    assert [worker_threads(w) for w in (1, 2, 3, 4, 8)] == [4, 2, 1, 1, 1]


def test_a_worker_builds_the_app_from_the_environment(monkeypatch, verse_model_dir):
    import torch

    limits = Limits(max_n=3, timeout_s=7.5, batching=False, batch_max_poems=5)
    monkeypatch.setenv(SETTINGS_ENV, settings_json({"verse": str(verse_model_dir)}, limits,
                                                   "cpu", "fp32", 1))
    app = app_from_env()
    assert list(app.state.models) == ["verse"] and app.state.limits == limits
    assert torch.get_num_threads() == 1
    assert json.loads(os.environ[SETTINGS_ENV])["precision"] == "fp32"


def _children(pid: int) -> list[int] | None:
    """A process's children, where the kernel lists them (None where it does not)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_serve_with_two_workers_answers_and_stops_them_all(verse_model_dir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "lstmkit", "serve", "--port", str(port), "--workers", "2",
               "--model", f"verse={verse_model_dir}", "--precision", "fp32"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        response = httpx.post(base + "/api/poems", json={"form": "五绝", "seed": 1}, timeout=60)
        assert response.status_code == 200, response.text
        assert response.json()["poems"][0]["check"]["ok"]
        workers = _children(server.pid)
        assert workers is None or len(workers) >= 2  # the workers (and multiprocessing's helper)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    first_line = server.stdout.read().splitlines()[0]
    assert "from 2 worker processes" in first_line
    time.sleep(0.5)
    for pid in workers or []:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_workers_must_be_at_least_one(verse_model_dir):
    from click.testing import CliRunner

    from lstmkit.cli import main

    result = CliRunner().invoke(main, ["serve", "--workers", "0", "--model", str(verse_model_dir)])
    assert result.exit_code != 0 and "--workers" in result.output
