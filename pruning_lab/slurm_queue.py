"""SLURM job states for submitit from ``squeue`` where the cluster keeps no accounting.

submitit learns how a job ended from ``sacct``. On a cluster without accounting storage every
``sacct`` call fails: each failure prints sacct's own error plus a submitit warning three times
(its two handlers and Hydra's), and a job that ends without a result (cancelled, killed, out of
memory) is never seen to end, so the sweep would wait for it forever. ``squeue --states=all``
knows both until ``MinJobAge`` after the job ends; a job it no longer knows has ended too.
"""

from __future__ import annotations

import functools
import subprocess
import time

from submitit.slurm import slurm

# a state submitit counts as ended (it is not one of its "incomplete" states)
FORGOTTEN = "ENDED"


@functools.lru_cache(maxsize=1)
def accounting() -> bool:
    """Whether the cluster stores accounting, so that ``sacct`` can answer."""
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return True  # cannot tell: leave submitit to its own means
    setting = next((ln.split("=", 1)[1].strip() for ln in out.splitlines()
                    if ln.split("=", 1)[0].strip() == "AccountingStorageType"), "")
    return setting not in ("accounting_storage/none", "none")


class QueueWatcher(slurm.SlurmInfoWatcher):
    """submitit's job states: from ``sacct``, or from ``squeue`` where accounting is disabled."""

    def update(self) -> None:
        if accounting():
            return super().update()
        pending = self._registered - self._finished
        if not pending:
            return
        self._num_calls += 1
        ids = sorted({job.split("_")[0] for job in pending})
        command = ["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%N", f"--jobs={','.join(ids)}"]
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            out = None
        self._last_status_check = time.time()
        # squeue refuses the whole call when none of the ids is known any more
        if out is None or (out.returncode != 0 and "Invalid job id" not in out.stderr):
            return  # the controller is busy or unreachable: ask again later
        info = self.read_info("JobID|State|NodeList\n" + (out.stdout if out.returncode == 0 else ""))
        for job in pending:
            # gone from the queue: it ended at least MinJobAge ago
            self._info_dict[job] = info.get(job) or {"JobID": job, "State": FORGOTTEN}
            if self.is_done(job, mode="cache"):
                self._finished.add(job)


def watch_the_queue() -> None:
    """Make every SLURM job of this process read its state through ``QueueWatcher``."""
    if not isinstance(slurm.SlurmJob.watcher, QueueWatcher):
        slurm.SlurmJob.watcher = QueueWatcher(delay_s=slurm.SlurmJob.watcher._delay_s)

