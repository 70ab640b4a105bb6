"""The micro-batcher alone: who shares a pass, in what order, and how failures spread."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from lstmkit.web.batching import Batcher


def _run_all(batcher: Batcher, gate: threading.Event, submissions):
    """Hold the worker until every submission waits, then let it go; the results."""
    async def main():
        batcher.executor.submit(gate.wait)  # the worker is busy while requests queue up
        tasks = []
        for key, n, payload in submissions:
            tasks.append(asyncio.ensure_future(batcher.submit(key, n, payload)))
            await asyncio.sleep(0.02)  # arrivals in this order, each past the window
        gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)
    return asyncio.run(main())


def test_each_pass_serves_the_longest_waiting_key_with_all_of_it():
    passes = []

    def run(key, wants):
        passes.append((key, [payload for _, payload in wants]))
        return [f"{key}:{payload}" for _, payload in wants]

    batcher = Batcher(run, ThreadPoolExecutor(1), window_s=0.001, max_items=3)
    results = _run_all(batcher, threading.Event(), [
        ("b", 1, "b1"), ("a", 1, "a1"), ("b", 1, "b2"), ("a", 1, "a2"), ("b", 2, "b3"), ("b", 1, "b4")])
    assert results == ["b:b1", "a:a1", "b:b2", "a:a2", "b:b3", "b:b4"]
    # b came first: b1 and b2 (b3 would pass max_items), then a, then the rest of b
    assert passes == [("b", ["b1", "b2"]), ("a", ["a1", "a2"]), ("b", ["b3", "b4"])]


def test_a_failure_reaches_only_its_own_request_or_the_whole_pass():
    def run(key, wants):
        if key == "broken":
            raise RuntimeError("the pass failed")
        return [ValueError(p) if p == "bad" else p for _, p in wants]

    batcher = Batcher(run, ThreadPoolExecutor(1), window_s=0.001)
    results = _run_all(batcher, threading.Event(), [
        ("k", 1, "good"), ("k", 1, "bad"), ("broken", 1, "x"), ("broken", 1, "y")])
    assert results[0] == "good" and isinstance(results[1], ValueError)
    assert all(isinstance(r, RuntimeError) for r in results[2:])


def test_without_batching_each_request_runs_alone():
    passes = []

    def run(key, wants):
        passes.append(len(wants))
        return [ValueError("no") if p == "bad" else p for _, p in wants]

    batcher = Batcher(run, ThreadPoolExecutor(1), enabled=False)
    results = _run_all(batcher, threading.Event(), [("k", 1, "a"), ("k", 1, "b"), ("k", 1, "bad")])
    assert results[:2] == ["a", "b"] and isinstance(results[2], ValueError) and passes == [1, 1, 1]
