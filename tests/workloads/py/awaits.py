# SPDX-License-Identifier: MIT
# asyncio workload for the attach snapshot's suspended tasks
# (tests/integration/suite-tasks.sh): five named tasks suspended in distinct
# await chains (asyncio.sleep, Event.wait, Queue.get, a task awaiting
# another task, a 3-deep chain of coroutines), and the main task asleep.
# Prints "ready" (and writes its pid to READY, argv[2], if given) once all
# are suspended, exits after SECONDS (argv[1], default 10). With EXTRA
# (argv[3]), EXTRA more tasks asleep and one awaiting a chain of 15
# coroutines (for the caps). The tests find lines by the "# at:" markers.
import asyncio
import os
import sys


async def sleeper():
    await asyncio.sleep(3600)  # at:sleeper


async def waiter(ev):
    await ev.wait()  # at:waiter


async def getter(q):
    await q.get()  # at:getter


async def joiner(other):
    await other  # at:joiner


async def inner():
    await asyncio.sleep(3600)  # at:inner


async def middle():
    await inner()  # at:middle


async def outer():
    await middle()  # at:outer


async def chain(n):
    if n:
        await chain(n - 1)
    else:
        await asyncio.sleep(3600)


async def main(seconds):
    ev, q = asyncio.Event(), asyncio.Queue()
    s = asyncio.create_task(sleeper(), name="sleeper")
    tasks = [
        s,
        asyncio.create_task(waiter(ev), name="waiter"),
        asyncio.create_task(getter(q), name="getter"),
        asyncio.create_task(joiner(s), name="joiner"),
        asyncio.create_task(outer(), name="deep"),
    ]
    extra = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if extra:
        tasks.append(asyncio.create_task(chain(14), name="long"))
    tasks += [asyncio.create_task(sleeper(), name=f"extra-{i}") for i in range(extra)]
    await asyncio.sleep(0.05)
    print("ready", flush=True)
    if len(sys.argv) > 2:
        with open(sys.argv[2] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    await asyncio.sleep(seconds)  # at:main
    for t in tasks:
        t.cancel()


asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 10))
