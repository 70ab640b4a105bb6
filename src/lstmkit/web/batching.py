"""Micro-batching: requests that decode alike share one decoding pass.

A batched pass of 16 poems costs little more than one poem on a CPU, because each step is
a matrix product whose weights are read once for every row. Requests whose settings agree
(the key: the model's name, the ``PoemRequest`` and the ``SampleConfig``) and that
carry no seed wait up to ``window_s`` for company; the worker thread then takes every
request of that key still waiting (up to ``max_items`` of what they ask for) and hands
them to ``run`` at once, which returns one result per request (an exception instance
fails that request alone). Each pass serves the key whose oldest request has waited
longest, so a later request never overtakes an earlier one of another key. A request
with a seed runs alone, so a seed always gives the same poem. One worker thread decodes at
a time: torch already uses the cores within a step, and the queue forms where it should,
before the model.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


@dataclass
class _Pending:
    n: int
    payload: object
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    order: int  # arrival


# run(key, [(n, payload) per request]) -> one result per request
Run = Callable[[Hashable, list[tuple[int, object]]], list]


@dataclass
class Batcher:
    """``await submit(key, n, payload)`` -> this request's result of ``run``."""

    run: Run
    executor: ThreadPoolExecutor
    window_s: float = 0.01
    max_items: int = 32
    enabled: bool = True
    _pending: dict[Hashable, list[_Pending]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _arrivals: int = 0

    async def submit(self, key: Hashable, n: int, payload: object = None):
        loop = asyncio.get_running_loop()
        if not self.enabled:
            return _unwrap((await loop.run_in_executor(self.executor, self.run, key,
                                                       [(n, payload)]))[0])
        future = loop.create_future()
        with self._lock:
            self._arrivals += 1
            self._pending.setdefault(key, []).append(_Pending(n, payload, future, loop, self._arrivals))
        await asyncio.sleep(self.window_s)  # let others with this key join
        loop.run_in_executor(self.executor, self._work)
        return await future

    def _take(self) -> tuple[Hashable, list[_Pending]]:
        """The key whose oldest waiting request came first, and its waiting requests that
        fit one pass (at least one; none when nothing waits); timed-out ones are dropped."""
        with self._lock:
            for key in list(self._pending):
                live = [p for p in self._pending[key] if not p.future.done()]
                if live:
                    self._pending[key] = live
                else:
                    del self._pending[key]
            if not self._pending:
                return None, []
            key = min(self._pending, key=lambda k: self._pending[k][0].order)
            waiting = self._pending[key]
            taken, total = [], 0
            for p in waiting:
                if taken and total + p.n > self.max_items:
                    break
                taken.append(p)
                total += p.n
            rest = waiting[len(taken):]
            if rest:
                self._pending[key] = rest
            else:
                self._pending.pop(key, None)
            return key, taken

    def _work(self) -> None:
        """In the worker thread: one pass for the longest-waiting key (nothing when earlier
        passes took every request; each request schedules one call, so none is left)."""
        key, taken = self._take()
        if not taken:
            return
        try:
            results = self.run(key, [(p.n, p.payload) for p in taken])
        except BaseException as exc:  # every waiting request learns why
            results = [exc] * len(taken)
        for p, mine in zip(taken, results):
            error = mine if isinstance(mine, BaseException) else None
            p.loop.call_soon_threadsafe(_settle, p.future, None if error else mine, error)


def _unwrap(result):
    if isinstance(result, BaseException):
        raise result
    return result


def deal(results: list, wants: list[int]) -> list[list]:
    """``results`` (best first) dealt round the requests like cards, each to its count in
    ``wants``, so no request gets only the worst."""
    hands: list[list] = [[] for _ in wants]
    items = iter(results)
    while any(len(h) < w for h, w in zip(hands, wants)):
        for hand, want in zip(hands, wants):
            if len(hand) < want:
                hand.append(next(items))
    return hands


def _settle(future: asyncio.Future, result, error: BaseException | None) -> None:
    if future.done():  # timed out meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
