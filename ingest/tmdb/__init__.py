"""TMDB: the HTTP client (``client``), its adaptive rate (``rate``), the producer that
enumerates a genre (``discover``) and the wire shapes it reads (``wire``)."""
