"""The results as a table on stdout (and the targets of issue 7 checked)."""

from __future__ import annotations

from typing import Any

NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def _kinds(data: dict[str, Any]) -> str:
    kinds = data.get("error_kinds") or {}
    return f" ({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))})" if kinds else ""


def _get(data: dict[str, Any], *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(a: Any, b: Any) -> float | None:
    return a / b if isinstance(a, int | float) and isinstance(b, int | float) and b > 0 else None


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "NO")


def ratios(results: dict[str, Any], db: str) -> dict[str, float | None]:
    per_db = results["databases"].get(db, {})
    service = _get(per_db, "service", "throughput", "messages_per_second")
    bare = _get(per_db, "bare", "throughput", "messages_per_second")
    ptb = _get(results, "ptb", "throughput", "messages_per_second")
    return {"service_over_bare": _ratio(service, bare), "service_over_ptb": _ratio(service, ptb)}


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    load = results["load"]
    lines = [
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}; Python {m['python']}, "
        f"SQLite {m['sqlite']}" + (f", PostgreSQL {m['postgresql']}" if m.get("postgresql") else ""),
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items()),
        f"Load: {load['users']} users x {load['messages_per_user']} messages, {load['connections']} webhook "
        f"connections; open loop {load['open_loop_rate']:.0f} msg/s for {load['open_loop_seconds']:.0f} s; "
        f"soak {load['soak_messages']:,} messages ({load['soak_active_users']} users at a time)",
        "",
    ]
    dbs = list(results["databases"])
    width = 26
    header = f"{'':44}" + "".join(f"{NAMES.get(db, db):>{width}}" for db in dbs) + f"{'target':>14}"
    lines.append(header)
    lines.append("-" * len(header))

    def row(label: str, cells: list[str], target: str = "") -> None:
        lines.append(f"{label:44}" + "".join(f"{c:>{width}}" for c in cells) + f"{target:>14}")

    def cell(db: str, *path: str, digits: int = 0) -> str:
        return _num(_get(results["databases"][db], *path), digits)

    def lat(data: Any) -> str:
        if not isinstance(data, dict):
            return "-"
        return f"{data['p50']:.1f} / {data['p99']:.1f}"

    ptb = _get(results, "ptb", "throughput", "messages_per_second")
    row(
        "service throughput (msg/s)",
        [cell(db, "service", "throughput", "messages_per_second") for db in dbs],
    )
    row("bare reference (msg/s)", [cell(db, "bare", "throughput", "messages_per_second") for db in dbs])
    row("python-telegram-bot reference (msg/s)", [_num(ptb) for _ in dbs])
    row(
        "service / bare",
        [
            f"{r:.2f} {_verdict(r >= 0.5)}" if (r := ratios(results, db)["service_over_bare"]) else "-"
            for db in dbs
        ],
        ">= 0.5",
    )
    row(
        "service / python-telegram-bot",
        [
            f"{r:.2f} {_verdict(r >= 6)}" if (r := ratios(results, db)["service_over_ptb"]) else "-"
            for db in dbs
        ],
        ">= 6",
    )
    row(
        "service webhook p50 / p99 at full load (ms)",
        [lat(_get(results["databases"][db], "service", "throughput", "latency_ms")) for db in dbs],
    )
    row(
        "bare webhook p50 / p99 at full load (ms)",
        [lat(_get(results["databases"][db], "bare", "throughput", "latency_ms")) for db in dbs],
    )
    row(
        "open loop: rate achieved, service (msg/s)",
        [
            cell(db, "service", "open_loop", "answered_rate")
            + (
                " (overloaded)"
                if _get(results["databases"][db], "service", "open_loop", "overloaded")
                else ""
            )
            for db in dbs
        ],
        f"{load['open_loop_rate']:.0f}",
    )
    cells = []
    for db in dbs:
        data = _get(results["databases"][db], "service", "open_loop", "latency_ms")
        over = _get(results["databases"][db], "service", "open_loop", "overloaded")
        ok = isinstance(data, dict) and data["p99"] < 50 and not over
        cells.append(f"{lat(data)} {_verdict(ok)}" if isinstance(data, dict) else "-")
    row("open loop: service p50 / p99 (ms)", cells, "p99 < 50")
    row(
        "open loop: bare p50 / p99 (ms)",
        [lat(_get(results["databases"][db], "bare", "open_loop", "latency_ms")) for db in dbs],
    )
    row(
        "CPU per message: service / bare / PTB (ms)",
        [
            " / ".join(
                _num(v, 2)
                for v in (
                    _get(results["databases"][db], "service", "throughput", "server_cpu_ms_per_message"),
                    _get(results["databases"][db], "bare", "throughput", "server_cpu_ms_per_message"),
                    _get(results, "ptb", "throughput", "server_cpu_ms_per_message"),
                )
            )
            for db in dbs
        ],
    )
    row(
        "machine idle in service / bare runs (%)",
        [
            " / ".join(
                _num(v * 100 if isinstance(v, float) else None)
                for v in (
                    _get(results["databases"][db], "service", "throughput", "machine_idle"),
                    _get(results["databases"][db], "bare", "throughput", "machine_idle"),
                )
            )
            for db in dbs
        ],
    )
    row("service peak RSS (MB)", [cell(db, "service", "peak_rss_mb", digits=1) for db in dbs])
    row(
        "soak: service RSS start / end / peak (MB)",
        [
            f"{s['rss_start_mb']:.0f} / {s['rss_end_mb']:.0f} / {s['rss_peak_mb']:.0f}"
            if isinstance(s := _get(results["databases"][db], "service", "soak"), dict)
            else "-"
            for db in dbs
        ],
    )
    row(
        "soak: RSS slope (MB per 10,000 messages)",
        [
            f"{s['slope_mb_per_10k']:+.2f}"
            if isinstance(s := _get(results["databases"][db], "service", "soak"), dict)
            else "-"
            for db in dbs
        ],
        "flat",
    )
    row("soak: service msg/s", [cell(db, "service", "soak", "messages_per_second") for db in dbs])
    row("bare reference peak RSS (MB)", [cell(db, "bare", "peak_rss_mb", digits=1) for db in dbs])
    row("python-telegram-bot peak RSS (MB)", [_num(_get(results, "ptb", "peak_rss_mb"), 1) for _ in dbs])
    problems = []
    for db in dbs:
        for name in ("service", "bare"):
            for phase in ("throughput", "open_loop", "soak"):
                data = _get(results["databases"][db], name, phase)
                if isinstance(data, dict) and (not data["complete"] or data["errors"]):
                    problems.append(
                        f"{NAMES.get(db, db)} {name} {phase}: {data['replies']} replies counted"
                        f"{'' if data['complete'] else ' (not all arrived)'}, {data['errors']} webhook errors"
                        + _kinds(data)
                    )
    ptb_data = _get(results, "ptb", "throughput")
    if isinstance(ptb_data, dict) and (not ptb_data["complete"] or ptb_data["errors"]):
        problems.append(f"ptb: complete={ptb_data['complete']}, {ptb_data['errors']} webhook errors")
    if problems:
        lines += ["", "Problems:"] + [f"  {p}" for p in problems]
    if "wall_seconds" in results:
        lines += ["", f"Wall time: {results['wall_seconds']:.0f} s"]
    return "\n".join(lines)
