"""py-spy on a server under test during one phase: `python -m bench --py-spy DIR`.

py-spy samples the process from outside (no change to its code, no tracing overhead inside it):
`py-spy record --pid PID --gil --format raw` from the phase's start until its end, writing collapsed
stacks (one line per distinct stack, `frame;frame;... count`; speedscope.app opens them as they are).
`--gil` keeps only samples in which a thread held the GIL: where the process's Python time goes, the
figure that matters for a CPU-bound single process. The summary kept in the results is the ten functions
with the most samples on top of the stack ("own") and in the stack at all ("total", as `py-spy top` shows,
leaving out frames in more than half the stacks with under a tenth of that on top: the entry chain and the
event loop), and the own shares summed by top-level package ("packages": sqlalchemy, aiohttp, intake...).
`python -m bench.pyspy FILE` prints that summary for a file written before.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# "handle (aiohttp/web_protocol.py:512)" or "<module> (bench/serve.py:109)"; the line number is dropped so
# that a function's samples on different lines add up.
FRAME = re.compile(r"^(?P<name>.*) \((?P<file>.*?)(?::\d+)?\)$")
TOP = 10


def executable() -> str:
    """The py-spy of this virtualenv (the test extras install it), else one on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is not installed: pip install -e '.[test]'")
    return found


def short(frame: str) -> str:
    match = FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith("/lib/"):
                path = path.split("/", 1)[1] if "/" in path else path
            break
    return f"{match['name']} ({path.rsplit('/helpline-intake/', 1)[-1]})"


def package(frame: str) -> str:
    """The top-level package of a shortened frame: "sqlalchemy", "aiohttp", "intake", "asyncio"..."""
    match = FRAME.match(frame)
    path = match["file"] if match is not None else frame
    return path.split("/", 1)[0] if "/" in path else path.removesuffix(".py")


def summarize(collapsed: str, top: int = TOP) -> dict[str, Any]:
    """The `top` functions by own and by total share of the samples in a collapsed-stacks text."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short(f) for f in stack.split(";")]
        # py-spy starts a stack with the thread's name ("process 123:\"MainThread\""): not a function.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        packages[package(frames[-1])] += count
        for name in set(frames):
            total[name] += count

    def ranked(counts: Counter[str]) -> list[list[Any]]:
        best = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]  # ties: by name
        return [[name, round(n / samples, 4)] for name, n in best] if samples else []

    # The entry chain and the event loop are in nearly every stack and spend almost none of it themselves:
    # their total share says nothing about where the time goes, so the total ranking leaves them out.
    inner = Counter({name: n for name, n in total.items() if n < samples / 2 or own[name] * 10 > n})
    return {
        "samples": samples,
        "own": ranked(own),
        "total": ranked(inner),
        "packages": ranked(packages),
    }


@dataclass
class PySpy:
    """py-spy recording one process; `stop()` ends the recording and returns its summary."""

    pid: int
    output: Path
    rate: int = 100
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> PySpy:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        argv = [executable(), "record", "--pid", str(self.pid), "--gil", "--rate", str(self.rate)]
        argv += ["--format", "raw", "--output", str(self.output)]
        self.process = await asyncio.create_subprocess_exec(
            *argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        return self

    async def stop(self) -> dict[str, Any]:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            async with asyncio.timeout(60):
                _, err = await self.process.communicate()
        except TimeoutError:
            self.process.kill()
            raise RuntimeError("py-spy did not stop within 60 s") from None
        if not self.output.exists():
            message = err.decode(errors="replace").strip()
            raise RuntimeError(f"py-spy wrote no profile: {message}")
        summary = summarize(self.output.read_text(encoding="utf-8", errors="replace"))
        return {"file": str(self.output), **summary}


def render(summary: dict[str, Any]) -> str:
    lines = [f"{summary['samples']} samples with the GIL held"]
    for kind in ("own", "total", "packages"):
        lines.append(f"  top {len(summary[kind])} by {kind} share:")
        lines += [f"    {share * 100:5.1f} %  {name}" for name, share in summary[kind]]
    return "\n".join(lines)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(name)
        print(render(summarize(Path(name).read_text(encoding="utf-8", errors="replace"))))
