"""The stand-in's own credentials: not secrets, only what its clients must send.

Kept apart (standard library only) so that ``dev.py`` and the benchmark, which run under
interpreters without the project's dependencies, can start the stand-in and point a client
at it.
"""

FAKE_TOKEN = "fake-tmdb-read-access-token-0b1c2d3e4f"
FAKE_API_KEY = "fakeapikey0123456789abcdef0123456"
