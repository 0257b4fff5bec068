"""``python -m ingest.standin``: serve the TMDB stand-in until SIGINT/SIGTERM."""

from ingest.standin.server import main

main()
