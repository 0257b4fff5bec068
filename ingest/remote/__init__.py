"""Calls to remote services: the house retry rule (``retry``: backoff with jitter and the
retries' summary) and what an AWS error means (``aws_errors``)."""
