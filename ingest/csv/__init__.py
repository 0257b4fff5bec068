"""Stage 1: local CSV files into the Raw zone, byte for byte (``stage``), checked by one
streaming scan (``scan``), run on a core of its own where there is one (``beside``)."""
