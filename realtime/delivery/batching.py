"""Database reads shared by the handshakes in flight.

A reconnect storm is thousands of sockets asking the same questions at once (who is this user,
what is their newest event, where do their positions go). `Batched` runs one call of a sync
`load(requests) -> results` in a database thread for every request made while the previous call
ran, so a burst of N handshakes costs a few thread hops and a few `IN (...)` queries, not N of each.
"""

import asyncio

from rideshare.kernel.db import db_call

MAX_BATCH = 500  # also keeps `IN (...)` lists under SQLite's parameter limit


class Batched:
    def __init__(self, load, max_batch=MAX_BATCH):
        self.load = load
        self.max_batch = max_batch
        self.loop = None
        self.pending = []
        self.running = False

    async def __call__(self, request):
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a new server loop (tests run one per test): no state carries over
            self.loop, self.pending, self.running = loop, [], False
        future = loop.create_future()
        self.pending.append((request, future))
        if not self.running:
            self.running = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self):
        try:
            while self.pending:
                batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
                try:
                    results = await db_call(self.load)([request for request, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():  # its handshake may have been cancelled meanwhile
                        future.set_result(result)
        finally:
            self.running = False
