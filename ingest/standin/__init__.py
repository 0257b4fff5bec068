"""The TMDB stand-in: a synthetic catalogue served over HTTP with TMDB's shapes and faults.

Shipped with the package (not only the tests) so that ``dev.py run`` can demonstrate
stage 2 offline, and so that tests, the benchmark and the deploy checks all start it the
same way.
"""

from ingest.standin.server import FAKE_API_KEY, FAKE_TOKEN, Catalog, Counters, FakeTmdb

__all__ = ["FAKE_API_KEY", "FAKE_TOKEN", "Catalog", "Counters", "FakeTmdb"]
