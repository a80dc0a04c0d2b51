"""`python -m bench.memdiff A B [N]`: the N (20) call sites whose traced memory grew most from snapshot A to
snapshot B (written by bench/serve.py with HELPLINE_BENCH_TRACEMALLOC), with the stack that allocated it."""

from __future__ import annotations

import sys
import tracemalloc


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    first, last = (tracemalloc.Snapshot.load(path) for path in argv[:2])
    limit = int(argv[2]) if len(argv) > 2 else 20
    stats = last.compare_to(first, "traceback")
    total = sum(stat.size_diff for stat in stats)
    print(f"traced memory grew by {total / 1e6:+.2f} MB")
    for stat in stats[:limit]:
        print(f"\n{stat.size_diff / 1e6:+.3f} MB in {stat.count_diff:+d} blocks")
        for line in stat.traceback.format()[-16:]:
            print("   ", line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
