"""The scripts answer ``--help`` with a line for every option, and say what they install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scripts import make_sample_csv

ROOT = Path(__file__).resolve().parent.parent


def test_every_option_of_make_sample_csv_has_help() -> None:
    actions = [a for a in make_sample_csv.build_parser()._actions if a.dest != "help"]
    assert {a.dest for a in actions} == {"kind", "out", "rows", "target_bytes", "seed"}
    assert [a.dest for a in actions if not a.help] == []


def test_localstack_script_says_what_it_installs_and_installs_nothing_for_help(tmp_path: Path) -> None:
    venv = tmp_path / "ls-venv"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "localstack.py"), "--help"],
        env={"PATH": "/usr/bin:/bin", "LOCALSTACK_VENV": str(venv)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())  # argparse wraps the description
    assert "installs LocalStack 4.14.0" in said and "about 500 MB" in said
    assert not venv.exists()
