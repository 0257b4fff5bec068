"""Run a command and report the kernel's peak RSS for it: ``rusage_wrap.py OUT -- CMD...``.

Why a wrapper: Linux carries a process's RSS high-water mark across ``exec``, so a
command started straight from the (large) benchmark process would inherit that
process's peak. Started from this small one, the inherited floor is ~10 MB. ``wait4``
then gives the largest single process of the command's tree (``ru_maxrss``, KiB) and the
CPU time (user + system) of the whole reaped tree, written to OUT as JSON; the exit status is passed through.
"""

import json
import os
import sys

out = sys.argv[1]
cmd = sys.argv[3:]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as fh:
    json.dump({"ru_maxrss_kib": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime}, fh)
sys.exit(os.waitstatus_to_exitcode(status))
