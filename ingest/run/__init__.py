"""One run of the pipeline, whatever started it, from start to its last line:

- ``start``: how every entry point starts (secrets registered, settings loaded, logging);
- ``checks``: the start-up checks of what a run needs (the lake, TMDB, the queue);
- ``job``: the run itself (its request recorded, stage 1 then stage 2, its outcome);
- ``dry_run``: ``--dry-run``, a plan without writing anything;
- ``lambda_event``: what a Lambda event asks for, as settings.

When to stop starting work (``ingest.stop``) sits below, beside the errors: the stages use it too.
"""
