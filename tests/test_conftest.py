"""The suite's own helpers that a flaky run would blame: stopping the processes a test started."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import stop_processes

SLEEPER = "import signal, time; {}; print('ready', flush=True); time.sleep(60)"


def _start(setup: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER.format(setup)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"  # its signal handling is set
    return proc


def test_stopping_waits_for_a_process_that_exits_and_kills_one_that_ignores_sigterm():
    polite, stubborn = _start("pass"), _start("signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    assert stop_processes([polite, stubborn], grace_s=1.0) == [-15, -9]  # the grace, then the kill
    assert stop_processes([polite], grace_s=1.0) == [-15]  # stopping a stopped process changes nothing
    for proc in (polite, stubborn):
        assert proc.stdout is not None
        proc.stdout.close()
