"""The loop bench refuses a pairing it cannot run before it installs or trains anything."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "loop_efficacy.py"


@pytest.mark.parametrize(("pairing", "reason"), [
    ("foo", "the strategy is random, diverse or uncertain"),
    ("random+promote+chain", "at most one of +promote and +chain"),
    ("diverse+later", "at most one of +promote and +chain"),
    ("uncertain+reuse", "uncertain needs +promote or +chain"),
])  # fmt: skip
def test_a_pairing_the_bench_cannot_run_is_refused_with_its_reason(pairing, reason, tmp_path):
    done = subprocess.run([sys.executable, str(BENCH), "--pairing", "random+chain", "--pairing", pairing,
                           "--repeats", "2", "--out", str(tmp_path / "out.json")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and f"--pairing {pairing}: " in done.stderr and reason in done.stderr
    assert not (tmp_path / "out.json").exists()
