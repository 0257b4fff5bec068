"""What a run says: its counts (``counts``: the run report /metrics and the summary read),
its last line (``summary``), progress bars on a terminal (``progress``) and its logs
(``logs``: structlog, JSON off a terminal, secrets masked)."""
