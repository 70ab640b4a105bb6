"""Re-run the README's examples of the bundled models and show where their output changed.

    python scripts/readme_examples.py            # report: each example, same or changed
    python scripts/readme_examples.py --write    # put the new output into README.md

The examples are the ``$ lstmkit poem | write | check | eval ...`` commands in the README's
``console`` blocks that name no run folder (``runs/...``: those need a training run first);
their output is every line up to the next ``$`` line or the block's end. Each runs through
bash from the repository root with ``.venv/bin`` first on the PATH, stdout and stderr
together (as a terminal shows them). A ``check`` of a poem written just above it reads the
poem from its own command line: after ``--write`` changes that poem, edit the command and
run this again.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = re.compile(r"^\$ lstmkit (poem|write|check|eval)\b")


@dataclass
class Example:
    command: str
    start: int  # first output line (index into the README's lines)
    end: int  # one past the last output line


def examples(lines: list[str]) -> list[Example]:
    """The runnable examples of ``lines`` (the README), in order."""
    found, in_console, i = [], False, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            in_console = line.strip() == "```console" and not in_console
            i += 1
            continue
        if in_console and EXAMPLE.match(line) and "runs/" not in line:
            command = line[2:]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + lines[i].strip()
            end = i + 1
            while end < len(lines) and not lines[end].startswith(("$ ", "```")):
                end += 1
            last = end
            while last > i + 1 and not lines[last - 1].strip():
                last -= 1  # the blank line before the next example is not output
            found.append(Example(command, i + 1, last))
        i += 1
    return found


def run(command: str) -> list[str]:
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", f"{{ {command} ; }} 2>&1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    return [line.rstrip() for line in done.stdout.rstrip("\n").split("\n")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    lines = args.readme.read_text(encoding="utf-8").split("\n")
    changed = 0
    for example in reversed(examples(lines)):  # from the end, so earlier indices hold
        new = run(example.command)
        old = [line.rstrip() for line in lines[example.start:example.end]]
        same = new == old
        changed += not same
        print(f"{'same   ' if same else 'CHANGED'} $ {example.command}", flush=True)
        if not same:
            print("\n".join(f"    {line}" for line in new))
            lines[example.start:example.end] = new
    if args.write and changed:
        args.readme.write_text("\n".join(lines), encoding="utf-8")
    print(f"{changed} example(s) changed" + (" and written" if args.write and changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
