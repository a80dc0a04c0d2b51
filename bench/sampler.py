"""A small statistical profiler for the service process (py-spy is not installed here).

Every `interval` seconds of CPU time (ITIMER_PROF) a signal handler records the running Python stack; at exit
the stacks are written in the "collapsed" format of flamegraph.pl / speedscope (`frame;frame;frame count`).
Unlike cProfile it costs little and sees through greenlets (SQLAlchemy's async bridge) and coroutines.
`python -m bench.sampler FILE [PREFIX ...]` prints the inclusive share of the frames matching each prefix.
"""

from __future__ import annotations

import signal
import sys
from collections import Counter
from pathlib import Path
from types import FrameType


class StackSampler:
    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.stacks: Counter[str] = Counter()

    def _frame_name(self, frame: FrameType) -> str:
        code = frame.f_code
        path = code.co_filename
        for marker in ("site-packages/", "/work/main/", "lib/python3"):
            if marker in path:
                path = path.split(marker, 1)[1]
                break
        return f"{path}:{code.co_name}"

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        names = []
        while frame is not None:
            names.append(self._frame_name(frame))
            frame = frame.f_back
        self.stacks[";".join(reversed(names))] += 1

    def start(self) -> None:
        signal.signal(signal.SIGPROF, self._handler)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def stop(self, path: str) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        with open(path, "w", encoding="utf-8") as out:
            for stack, count in self.stacks.most_common():
                out.write(f"{stack} {count}\n")


def summarise(path: Path, prefixes: list[str]) -> str:
    stacks: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        stacks[stack] += int(count)
    total = sum(stacks.values()) or 1
    lines = [f"{total} samples"]
    for prefix in prefixes:
        hits = sum(n for stack, n in stacks.items() if any(f.startswith(prefix) for f in stack.split(";")))
        lines.append(f"{100 * hits / total:6.1f}%  {prefix}")
    leaf: Counter[str] = Counter()
    for stack, n in stacks.items():
        leaf[stack.rsplit(";", 1)[-1]] += n
    lines.append("top leaf frames:")
    lines += [f"{100 * n / total:6.1f}%  {name}" for name, n in leaf.most_common(25)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1]), sys.argv[2:]))
