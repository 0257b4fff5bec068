"""``python -m ingest status``: what the lake holds for a date, per dataset.

``survey`` reads the lake into a ``DateStatus``; ``render`` shows it; ``cli`` is the
command and its exit codes (0 all there, 1 something missing or nothing there, 2 bad usage).
"""

from ingest.status.cli import main

__all__ = ["main"]
