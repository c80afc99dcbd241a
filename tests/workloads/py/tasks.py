# SPDX-License-Identifier: MIT
# asyncio workload for the per-task profile (tests/integration/suite-i16-asyncio.sh):
# three named tasks on one event loop burn CPU in slices of 6, 3 and 1 ms
# on average (60/30/10 of the loop's work; each slice drawn from 0.5 to 1.5
# times that, so that a round never keeps step with the sampling period),
# yielding to the loop in between, for
# SECONDS (argv[1], default 2). Prints, as JSON, each task's share of the
# CPU time the tasks used, measured by the tasks themselves (thread_time).
import asyncio
import json
import random
import sys
import time

SLICES = {"alpha": 0.006, "beta": 0.003, "gamma": 0.001}
used = dict.fromkeys(SLICES, 0.0)
rng = random.Random(16)


def burn(until):
    x = 0
    while time.thread_time() < until:
        for i in range(200):
            x += i * i
    return x


async def worker(name, stop):
    while time.monotonic() < stop:
        t0 = time.thread_time()
        burn(t0 + SLICES[name] * rng.uniform(0.5, 1.5))
        used[name] += time.thread_time() - t0
        await asyncio.sleep(0)


async def main(seconds):
    stop = time.monotonic() + seconds
    await asyncio.gather(*(asyncio.create_task(worker(n, stop), name=n) for n in SLICES))


asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 2))
total = sum(used.values())
print(json.dumps({n: round(100 * v / total, 1) for n, v in used.items()}))
