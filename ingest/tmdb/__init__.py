"""Stage 2, TMDB -> lake, one module per role:

- ``crawl``: the stage (``run_tmdb``), genre by genre; ``planner``: plans made or reused;
- ``refresh``: full or incremental, and the incremental plan; ``changes``: TMDB's changes
  feed; ``cursor``: the date of a dataset's last complete run; ``removed``: removed.json;
- ``discover``: every movie id of a genre; ``collections``: a genre's collection ids;
- ``pool``: feeder -> workers -> sink; ``sink``: batches assembled and written;
- ``plan``: the plan and done-marker formats; ``files``: the JSON Lines file rules;
- ``client`` (with ``answers``, ``rate``, ``reach``): the HTTP client, what an answer
  means, the adaptive rate, the breaker; ``wire``: the response shapes read.
"""
