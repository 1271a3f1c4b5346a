"""`nlptl serve` under load: N concurrent clients (1, 8, 32) for a bounded time each, micro-batched server vs a
naive one-request-one-forward server (the same `nlptl serve` with --max-batch 1 --max-wait-ms 0: same model,
same HTTP stack, so the difference is what micro-batching buys).

Each server runs as its own `nlptl serve` process on a free loopback port; the clients are one asyncio process
(httpx2), each client sending one IMDb test review per request (seeded sample, cycled) and waiting for the
answer before sending the next. Reported per level: requests/s, p50/p99 latency, errors (non-200 or transport
failures), mean texts per forward and the batch-size distribution (from the server's /metrics).

    python bench/serve_load.py MODEL_DIR [--levels 1,8,32] [--seconds 30] [--backend torch|onnx] [--max-batch 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import numpy as np
import pandas as pd
from common import SHARED_DATA, print_table

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str, backend: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "nlptl.cli", "serve", model, "--backend", backend, "--port",
                                str(port), *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        if process.poll() is not None:
            raise SystemExit(f"nlptl serve {model} exited with {process.returncode}")
        try:
            httpx.get(f"{url}/health").raise_for_status()
            return process, url
        except httpx.TransportError:
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit("nlptl serve did not start in 300 s") from None
            time.sleep(0.5)


def batch_histogram(url: str) -> dict[str, float]:
    """Cumulative bucket counts and sum/count of nlptl_batch_texts."""
    values = {}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith("nlptl_batch_texts_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


async def load(url: str, clients: int, seconds: float, texts: list[str]) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(index: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        position = index
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                reply = await http.post("/predict", json={"text": texts[position % len(texts)]})
                ok = reply.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1
            position += clients

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    return latencies, errors


def distribution(before: dict[str, float], after: dict[str, float]) -> tuple[float, str]:
    """Mean texts per forward and the share of forwards per batch-size bucket (le=...)."""
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    forwards = delta.get("nlptl_batch_texts_count", 0.0)
    mean = delta.get("nlptl_batch_texts_sum", 0.0) / forwards if forwards else float("nan")
    buckets = sorted(((float(k.split('le="')[1].rstrip('"}')), v) for k, v in delta.items()
                      if "_bucket" in k and "+Inf" not in k))
    parts, previous = [], 0.0
    for bound, cumulative in buckets:
        if cumulative - previous > 0 and forwards:
            parts.append(f"<={bound:g}:{100 * (cumulative - previous) / forwards:.0f}%")
        previous = cumulative
    return mean, " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--levels", default="1,8,32", help="concurrent clients, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="load time per level")
    parser.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    texts = pd.read_parquet(SHARED_DATA / "imdb" / "test.parquet").sample(n=args.samples, random_state=0)["text"]
    servers = {"micro-batched": ["--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms)],
               "naive": ["--max-batch", "1", "--max-wait-ms", "0"]}
    rows = []
    for name, extra in servers.items():
        process, url = start_server(args.model_dir, args.backend, extra)
        try:
            asyncio.run(load(url, 1, 2.0, texts.tolist()))  # warm-up
            for clients in levels:
                before = batch_histogram(url)
                latencies, errors = asyncio.run(load(url, clients, args.seconds, texts.tolist()))
                mean, spread = distribution(before, batch_histogram(url))
                rows.append({"server": name, "clients": clients, "requests/s": len(latencies) / args.seconds,
                             "p50 ms": 1000 * float(np.percentile(latencies, 50)) if latencies else float("nan"),
                             "p99 ms": 1000 * float(np.percentile(latencies, 99)) if latencies else float("nan"),
                             "errors": errors, "texts/forward": mean, "batch sizes": spread})
                print(rows[-1], flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)
    naive = {row["clients"]: row["requests/s"] for row in rows if row["server"] == "naive"}
    for row in rows:
        row["x naive"] = row["requests/s"] / naive[row["clients"]] if naive.get(row["clients"]) else float("nan")
    print(f"\n{args.model_dir} ({args.backend}), {args.seconds:.0f} s per level, one review per request")
    print_table(rows, ["server", "clients", "requests/s", "x naive", "p50 ms", "p99 ms", "errors", "texts/forward",
                       "batch sizes"])


if __name__ == "__main__":
    main()
