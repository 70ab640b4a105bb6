"""How long whole ``lstmkit`` commands take, each in a fresh process, as a user waits for them.

    python bench/command_time.py --repeats 5 --before /tmp/old-checkout -- \
        "poem --form 七绝 --seed 1" "--help" "check 白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"

Each command runs as ``python -m lstmkit ARGS`` with this checkout's ``src`` first on
``PYTHONPATH`` and, with ``--before``, the same with another checkout's; the checkouts
alternate within each repeat, so a busy machine slows both alike. Prints the median
wall-clock seconds and the largest peak memory (each child's own ru_maxrss) per command and
checkout, and the output of the first run of each (to see that both wrote the same).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(src: Path, args: list[str]) -> tuple[float, float, str]:
    """Seconds, peak RSS (MiB) and output of ``python -m lstmkit args`` with ``src`` first."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "lstmkit", *args], env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        output = out.read().strip()
    if child.returncode:  # a failed command's time says nothing
        raise SystemExit(f"lstmkit {' '.join(args)} failed with status {child.returncode}:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commands", nargs="+", help="lstmkit's arguments, one string per command")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", type=Path, help="an older checkout to run alternately")
    args = parser.parse_args()
    sides = {"this": ROOT / "src"}
    if args.before:
        sides["before"] = args.before.resolve() / "src"
    times: dict = {(side, c): [] for side in sides for c in args.commands}
    peaks: dict = {(side, c): [] for side in sides for c in args.commands}
    outputs: dict = {}
    for _ in range(args.repeats):
        for command in args.commands:
            for side, src in sides.items():
                seconds, peak, output = run(src, shlex.split(command))
                times[side, command].append(seconds)
                peaks[side, command].append(peak)
                outputs.setdefault((side, command), output)
    for command in args.commands:
        for side in sides:
            found = times[side, command]
            print(f"{side:6} lstmkit {command}: median {statistics.median(found):.2f} s "
                  f"(min {min(found):.2f}, max {max(found):.2f}, {len(found)} runs), "
                  f"peak RSS {max(peaks[side, command]):.0f} MiB")
            print("       " + outputs[side, command].replace("\n", "\n       ")[:400])


if __name__ == "__main__":
    main()
