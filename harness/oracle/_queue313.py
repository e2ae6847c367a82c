"""_queue313.py: asyncio.Queue with Python 3.13's shutdown() on Python 3.11 (stdlib only).

Python 3.13 added Queue.shutdown(immediate=False) and QueueShutDown. On 3.13+ the real class
is used. On older versions this subclass follows the 3.13 documentation: after shutdown, put
raises QueueShutDown at once; get drains what is left and then raises; immediate=True drops
the items (counting them done for join); blocked putters and getters are woken and raise.
"""
import asyncio

if hasattr(asyncio.Queue, "shutdown"):
    Queue = asyncio.Queue
    QueueShutDown = asyncio.QueueShutDown
else:
    class QueueShutDown(Exception):
        """Raised by put/get on a queue that was shut down (3.13's asyncio.QueueShutDown)."""

    class Queue(asyncio.Queue):
        def __init__(self, maxsize=0):
            super().__init__(maxsize)
            self._is_shutdown = False

        def shutdown(self, immediate=False):
            self._is_shutdown = True
            if immediate:
                while not self.empty():
                    self._get()
                    if self._unfinished_tasks > 0:
                        self._unfinished_tasks -= 1
                if self._unfinished_tasks == 0:
                    self._finished.set()
            for waiters in (self._getters, self._putters):
                while waiters:
                    w = waiters.popleft()
                    if not w.done():
                        w.set_result(None)

        async def _wait(self, waiters):
            """Park on a new future in waiters until woken (by a get/put or shutdown); on a
            cancellation pass a wake-up already received on (3.13's get/put `except:`)."""
            fut = self._get_loop().create_future()
            waiters.append(fut)
            try:
                await fut
            except BaseException:
                fut.cancel()
                try:
                    waiters.remove(fut)
                except ValueError:
                    pass
                holds = not self.empty() if waiters is self._getters else not self.full()
                if holds and not fut.cancelled():
                    self._wakeup_next(waiters)
                raise

        async def put(self, item):
            while self.full():
                if self._is_shutdown:
                    raise QueueShutDown
                await self._wait(self._putters)
            return self.put_nowait(item)

        def put_nowait(self, item):
            if self._is_shutdown:
                raise QueueShutDown
            return super().put_nowait(item)

        async def get(self):
            while self.empty():
                if self._is_shutdown:
                    raise QueueShutDown
                await self._wait(self._getters)
            return self.get_nowait()

        def get_nowait(self):
            if self.empty() and self._is_shutdown:
                raise QueueShutDown
            return super().get_nowait()
