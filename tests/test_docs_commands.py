"""Every shell command of README.md and docs/ runs as written, in a shell where the
virtualenv is active and ``dev.py up``'s exports are set.

A fenced block of commands is ```` ```sh MARKER ````; MARKER says how it can be run:

- ``runnable``: as written, against ``dev.py up`` (here: ``--moto``); this test runs it;
- ``server``: runs until Ctrl-C (``dev.py up``, the stand-in): started by the tests that own it;
- ``slow``: minutes (every check, the benchmark, a 14,000-movie crawl);
- ``aws``: needs an AWS account; ``docker``: a Docker engine; ``tmdb``: your TMDB token;
- ``placeholder``: names a value of yours (the real files' paths).

A block of commands without a marker fails here, so none can be added untried. The
runnable blocks run in a copy of the repository (so ``./datalake``, ``build/`` and the
answers page they write land there), in the order the pages give them; the answers page
they make must be the one committed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.up_kit import Up, dev_up_moto

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKERS = {"runnable", "server", "slow", "aws", "docker", "tmdb", "placeholder"}
# How a line of commands starts; a block that starts so must be marked.
_COMMAND = re.compile(r"^(python3? |\.venv/|\. |export |docker |aws |sam |pip |curl |bash )")
_FENCE = re.compile(r"^( *)```([^\n]*)\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    info: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> Iterator[Block]:
    source = page.read_text()
    for match in _FENCE.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        yield Block(page, line, match.group(2).strip(), textwrap.dedent(match.group(3)))


def runnable() -> list[Block]:
    return [b for page in PAGES for b in blocks(page) if b.info == "sh runnable"]


def test_every_block_of_commands_is_marked() -> None:
    unmarked, unknown = [], []
    for page in PAGES:
        for block in blocks(page):
            first = next((ln for ln in block.text.splitlines() if ln.strip()), "")
            if block.info.startswith("sh"):
                if block.info.removeprefix("sh").strip() not in MARKERS:
                    unknown.append(f"{block.where}: {block.info!r}")
            elif not block.info and _COMMAND.match(first):
                unmarked.append(f"{block.where}: {first}")
    assert unmarked == [], "mark these ```sh MARKER (see this module's docstring)"
    assert unknown == []
    assert len(runnable()) >= 6


@pytest.fixture(scope="module")
def up() -> Iterator[Up]:
    with dev_up_moto() as running:
        yield running


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the files the pages' commands read and write; the code is linked."""
    copy = tmp_path_factory.mktemp("checkout")
    for name in ("dev.py", "config.toml", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    # The commands as written, at the stand-in's pace rather than TMDB's 40 requests a
    # second: the same files and answers, without two crawls' worth of waiting.
    config = (copy / "config.toml").read_text()
    assert "\nrate_per_s = 40\n" in config
    (copy / "config.toml").write_text(config.replace("\nrate_per_s = 40\n", "\nrate_per_s = 1000\n"))
    for name in ("data", "docs"):
        shutil.copytree(ROOT / name, copy / name)
    for name in ("ingest", "workers", "scripts"):
        (copy / name).symlink_to(ROOT / name)
    # The virtualenv a reader activates: the tests' own.
    (copy / ".venv").symlink_to(sys.prefix)
    return copy


def _shell_env(up: Up, checkout: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TMDB_", "INGEST_", "VIRTUAL_ENV"))
    }
    venv_bin = str(Path(sys.prefix) / "bin")
    return (
        env
        | up.exports
        | {
            "PATH": os.pathsep.join([venv_bin, env.get("PATH", "")]),
            "VIRTUAL_ENV": sys.prefix,
            # The copy's code first, as an editable install of the checkout would have it.
            "PYTHONPATH": str(checkout),
            # dev.py runs in that virtualenv and installs nothing into it.
            "DEV_PY_VENV": sys.prefix,
        }
    )


def test_every_runnable_block_runs_as_written(up: Up, checkout: Path) -> None:
    env = _shell_env(up, checkout)
    for block in runnable():
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block.text],
            cwd=checkout, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, f"{block.where} failed:\n{block.text}\n{done.stderr[-2000:]}"
    # The sample files and the answers page the pages say these commands made, made again.
    for made in ("data/movies.csv", "data/series.csv", "docs/answers/README.md"):
        assert (checkout / made).read_bytes() == (ROOT / made).read_bytes(), made
