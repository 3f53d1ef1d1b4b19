"""``python -m pruning_lab.run``, forked from a process that has already loaded it.

A fresh interpreter spends about a second importing Hydra, pydantic and the package and
scanning Hydra's plugins before the command line is even read; the tests run the CLI about a
hundred times. This process does that work once, then, for each request on its stdin (one JSON
line: ``argv``, ``cwd``, ``stdout``, ``stderr``), forks a child that runs ``pruning_lab.run`` as
``-m`` would: as ``__main__``, in ``cwd``, with its output in the two files, in a process group of
its own, and ending through the interpreter's own exit (atexit handlers, exit status from
``SystemExit``, a traceback for anything else). The parent writes ``{"pid": ...}`` when the child
starts and ``{"code": ...}`` when it ends, as ``subprocess`` would report it.

Only the CLI's modules are loaded before the fork, never torch: a sweep's workers start as
they would from a shell (loky executes a fresh interpreter for each).
"""

from __future__ import annotations

import json
import os
import runpy
import sys

import pruning_lab  # noqa: F401  (first, as in the CLI: it sets the numerics)
import pruning_lab.launch.cli  # noqa: F401
import pruning_lab.launch.local  # noqa: F401
from hydra.core.plugins import Plugins

Plugins.instance()  # the plugin scan every CLI start makes


def serve() -> dict | None:
    """Fork a child per request; the child returns its request, the parent None at EOF."""
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            return request
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)
    return None


request = serve()
if request is None:
    sys.exit(0)
os.setpgid(0, 0)
for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                        (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
    opened = os.open(path, flags, 0o644)
    os.dup2(opened, fd)
    os.close(opened)
os.chdir(request["cwd"])
sys.path[0] = os.getcwd()  # as for ``python -m``
sys.argv = ["-m", *request["argv"]]
runpy.run_module("pruning_lab.run", run_name="__main__", alter_sys=True)
