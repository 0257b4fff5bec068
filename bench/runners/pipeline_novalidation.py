"""The pipeline with its row validation switched off: what the upload costs without it.

    .venv/bin/python bench/runners/pipeline_novalidation.py --csv FILE --lake s3://BUCKET [...]

A measuring stick, not a mode: it runs ``ingest.cli.main`` exactly as ``python -m ingest``
does, except that the validation scan's per-block check (``_Checker.block``) only counts
the block. The scan thread still reads the file; the SHA-256, the CRC32 of every part, the
upload and the read-back are unchanged. ``bench/servers_probe.py`` runs it as
``pipeline-novalidation`` beside the pipeline and boto3, so the difference between the
two pipelines is what validation costs in the run, and the difference to boto3 is what
the rest of the pipeline costs.
"""

from __future__ import annotations

import sys

from ingest.cli import main
from ingest.csv import scan


def _count_only(self: scan._Checker, block: bytes) -> None:
    self.scan.rows += 1


scan._Checker.block = _count_only  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
