"""What a client of the stand-in must know: its credentials (not secrets) and its limits.

Kept apart (standard library only) so that ``dev.py`` and the benchmark, which run under
interpreters without the project's dependencies, can start the stand-in and point a client
at it.
"""

import datetime as dt

# The stand-in's calendar: day 0 is this date, day n is n days later.
DAY0 = dt.date(2026, 11, 1)
STANDIN_TOKEN = "fake-tmdb-read-access-token-0b1c2d3e4f"
STANDIN_API_KEY = "fakeapikey0123456789abcdef0123456"
# Movies a discover page lists, and ids a changes page lists, as on TMDB.
PAGE_SIZE = 20
CHANGES_PAGE_SIZE = 100
# The last page TMDB serves of any listing (status_code 22 beyond it).
MAX_PAGE = 500
# The longest range of days the changes feed answers (422 status_code 20 beyond it).
MAX_CHANGES_DAYS = 14
