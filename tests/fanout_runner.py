"""One CI runner of the fan-out simulation (tests/test_fanout.py, benchmarks/bench_graph.py).

Run in a clone with ``TFKIT_STORE_URL`` set: ``python fanout_runner.py JOBS_JSON SEED [DEADLINE_S]``.
It prints ``ready``, waits for ``go`` on stdin (so runners start together), then takes its jobs in a
random order (``SEED``): a job whose environment may apply is applied (tfkit's own apply, gated); one that
must wait goes to the back of the queue, as a CI job retried later would (the runner pauses only when its
whole queue must wait); one with something unstable upstream is dropped. The last line is JSON:
``{environment: "applied" | "failed: ..." | "stopped: ..."}``.
"""

from __future__ import annotations

import collections
import json
import random
import sys
import time
from pathlib import Path


def main() -> None:
    from tfkit import workflow
    from tfkit.errors import TfkitError
    from tfkit.fanout import blocked
    from tfkit.project import Project
    from tfkit.store import open_store

    jobs = list(json.loads(sys.argv[1]))
    random.Random(int(sys.argv[2])).shuffle(jobs)
    deadline = time.monotonic() + (float(sys.argv[3]) if len(sys.argv) > 3 else 600.0)
    project = Project.load(Path.cwd())
    print("ready", flush=True)
    sys.stdin.readline()
    queue = collections.deque(jobs)
    result: dict[str, str] = {}
    stalled = 0  # jobs looked at since the last one that ran: a whole queue of them means wait a little
    with open_store(project) as store:
        while queue and time.monotonic() < deadline:
            name = queue.popleft()
            environment = project.environment(name)
            why = blocked(environment, store.ledger, journal=store.journal)
            stalled = stalled + 1 if why is not None and not why.final else 0
            if why is None:
                try:
                    workflow.apply(environment, auto_approve=True)
                    result[name] = "applied"
                except TfkitError as exc:
                    result[name] = f"failed: {str(exc).splitlines()[0]}"
            elif why.final:
                result[name] = f"stopped: {why.message}"
            else:
                queue.append(name)
                if stalled >= len(queue):
                    time.sleep(0.2)
                    stalled = 0
    result.update({name: "timeout" for name in queue})
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
