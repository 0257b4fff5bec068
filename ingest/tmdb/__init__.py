"""Stage 2, TMDB -> lake, one module per role:

- ``stage``: the one runner of the stage over every selected dataset, and its error path;
  ``context``: a run's context (``RunContext``) and a dataset's part (``DatasetRun``);
- ``crawl``: a genre's part (its movies, then its collections); ``planner``: a genre's
  plans made or reused; ``refresh``: full or incremental, and the incremental plan;
  ``changes``: TMDB's changes feed;
- ``discover`` (with ``discover_window``): every movie id of a genre, past the 10,000 cap;
  ``collections``: a genre's collection ids; ``id_order``: ids by popularity;
- ``catalogue``: the whole catalogue's part; ``catalogue_planner``: its day from TMDB's
  daily ID export (``exports``), full or incremental;
- ``pool``: feeder -> workers -> sink; ``sink``: batches assembled and written;
  ``files``: the JSON Lines file rules;
- ``client`` (with ``verdicts``, ``rate``, ``breaker``): the HTTP client, what an answer
  means, the request pacing, whether TMDB answers at all; ``wire``: the response shapes read.

The lake's state (plans, markers, cursors, ``removed.json``) is ``ingest.state``'s.
"""
