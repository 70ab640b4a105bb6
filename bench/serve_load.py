"""Load on ``lstmkit serve``: concurrent clients asking for poems, batching on and off.

    python bench/serve_load.py [--clients 64] [--requests 20] [--form 七绝] [--stream-share 0.25]

Starts the server (bundled models) on a free loopback port in this process, once with
micro-batching and once without, and has ``--clients`` clients each send ``--requests``
requests one after another (a ``--stream-share`` of them to the streaming endpoint, read to
the end). Reports per mode: poems per second, p50 and p99 latency of whole requests, and
errors (any status but 200, or a stream without its ``done`` event).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

import httpx

from lstmkit.web.app import Limits, create_app
from lstmkit.web.background import running


async def client(http: httpx.AsyncClient, form: str, requests: int, stream_share: float,
                 rng: random.Random, latencies: list[float], errors: list[str]) -> None:
    for _ in range(requests):
        started = time.perf_counter()
        try:
            if rng.random() < stream_share:
                async with http.stream("POST", "/api/poems/stream", json={"form": form}) as response:
                    body = "".join([chunk async for chunk in response.aiter_text()])
                ok = response.status_code == 200 and "event: done" in body
            else:
                response = await http.post("/api/poems", json={"form": form})
                ok = response.status_code == 200
            if not ok:
                errors.append(str(response.status_code))
        except httpx.HTTPError as exc:
            errors.append(type(exc).__name__)
        latencies.append(time.perf_counter() - started)


async def load(base: str, clients: int, requests: int, form: str, stream_share: float) -> dict:
    latencies, errors = [], []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*[client(http, form, requests, stream_share, random.Random(i),
                                      latencies, errors) for i in range(clients)])
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"requests": len(latencies), "seconds": elapsed, "poems_per_s": len(latencies) / elapsed,
            "p50": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "errors": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20, help="per client")
    parser.add_argument("--form", default="七绝")
    parser.add_argument("--stream-share", type=float, default=0.25)
    parser.add_argument("--timeout", type=float, default=120.0, help="the server's per-request limit")
    args = parser.parse_args()
    print("| batching | requests | seconds | poems/s | p50 s | p99 s | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for batching in (True, False):
        app = create_app({"tang": "tang"}, Limits(timeout_s=args.timeout, batching=batching))
        with running(app) as base:
            asyncio.run(load(base, 2, 1, args.form, 0.0))  # warm up
            r = asyncio.run(load(base, args.clients, args.requests, args.form, args.stream_share))
        print(f"| {'on' if batching else 'off'} | {r['requests']} | {r['seconds']:.1f} | "
              f"{r['poems_per_s']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} |", flush=True)


if __name__ == "__main__":
    main()
