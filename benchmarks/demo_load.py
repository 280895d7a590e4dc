"""Load on the Gradio demo: 20 concurrent Embed requests through gradio_client against a server on
127.0.0.1 (queue, concurrency limit 2). All must succeed; reports latency percentiles and the
server process's peak memory.

    python -m benchmarks.demo_load [--requests 20] [--method "network (instant)"]
"""

from __future__ import annotations

import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gradio_client import Client, handle_file  # noqa: E402

from benchmarks.report import write_report  # noqa: E402
from core.cli_checks import ArgumentParser

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "assets" / "examples").glob("*.png"))


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m benchmarks.demo_load", description=__doc__)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=["network (instant)", "fixed point (near-exact)"])
    args = parser.parse_args(argv)
    from demo_app import demo, launch_demo  # the server runs in this process: its peak RSS is ours

    launch_demo(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)  # as the app starts it: its CSS and upload limit
    rows = []
    try:
        for method in args.methods:
            def one(index: int) -> float:
                client = Client(demo.local_url, verbose=False)
                started = time.perf_counter()
                client.predict(handle_file(str(EXAMPLES[index % len(EXAMPLES)])), "fashion", method, api_name="/embed")
                return time.perf_counter() - started

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.requests) as pool:
                futures = [pool.submit(one, i) for i in range(args.requests)]
                latencies, failures = [], 0
                for future in futures:
                    try:
                        latencies.append(future.result())
                    except Exception as error:  # noqa: BLE001 - counted and reported
                        failures += 1
                        print(f"request failed: {error}", file=sys.stderr)
            wall = time.perf_counter() - started
            p50, p90, p99 = (np.percentile(latencies, q) if latencies else float("nan") for q in (50, 90, 99))
            rows.append({"method": method, "requests": args.requests, "succeeded": len(latencies), "failed": failures,
                         "p50 s": p50, "p90 s": p90, "p99 s": p99, "max s": max(latencies, default=float("nan")), "wall s": wall})
            print(rows[-1], flush=True)
    finally:
        demo.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    notes = (f"All requests sent at once from {args.requests} threads, each with its own gradio_client; the queue runs 2 at a time. "
             f"Server process peak resident memory: {peak_mb:.0f} MB.")
    write_report("demo_load", "Demo under load: concurrent Embed requests", " ".join(["python -m benchmarks.demo_load", *(argv if argv is not None else sys.argv[1:])]), rows, notes)
    if any(row["failed"] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
