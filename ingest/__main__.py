"""``python -m ingest``: see ``ingest.cli``.

Once ``main`` has returned, the run is over and has said so (its last line is on stderr,
its files are closed): the process ends there, without the interpreter's teardown, which
frees every module one by one (about 60 ms with aiohttp and the stages imported) for a
process that is about to be gone. An exception still takes the usual way out.
"""

import os
import sys

from ingest.cli import main

code = main()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
