"""The results as a table on stdout (and the targets of issue 19 checked: the service against the direct
reference, the open loop at 300 msg/s)."""

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
    direct = _get(per_db, "direct", "throughput", "messages_per_second")
    bare = _get(per_db, "bare", "throughput", "messages_per_second")
    ptb = _get(results, "ptb", "throughput", "messages_per_second")
    return {
        "service_over_direct": _ratio(service, direct),
        "service_over_bare": _ratio(service, bare),
        "service_over_ptb": _ratio(service, ptb),
    }


def _knee(data: Any) -> str:
    """The p99 search's bracket: "300-450" (held at 300, crossed at 450), ">= 900" (never crossed)."""
    if not isinstance(data, dict):
        return "-"
    held, crossed = data.get("held"), data.get("crossed")
    if crossed is None:
        return f">= {held:.0f}" if held is not None else "-"
    return f"{held:.0f}-{crossed:.0f}" if held is not None else f"< {crossed:.0f}"


def profiles(results: dict[str, Any]) -> list[str]:
    """py-spy's top ten (own share) of every server recorded with --py-spy."""
    found: list[tuple[str, dict[str, Any]]] = []
    ptb = _get(results, "ptb", "throughput", "py_spy")
    if isinstance(ptb, dict):
        found.append(("python-telegram-bot reference", ptb))
    for db, per_db in results["databases"].items():
        for name, data in per_db.items():
            spy = _get(data, "throughput", "py_spy")
            if isinstance(spy, dict):
                found.append((f"{name} on {NAMES.get(db, db)}", spy))
    lines: list[str] = []
    for label, spy in found:
        lines += ["", f"py-spy --gil, throughput phase, {label}: {spy['samples']} samples ({spy['file']})"]
        lines += [f"  {share * 100:5.1f} %  {name}" for name, share in spy["own"]]
    return lines


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
    header = f"{'':48}" + "".join(f"{NAMES.get(db, db):>{width}}" for db in dbs) + f"{'target':>14}"
    lines.append(header)
    lines.append("-" * len(header))

    def row(label: str, cells: list[str], target: str = "") -> None:
        lines.append(f"{label:48}" + "".join(f"{c:>{width}}" for c in cells) + f"{target:>14}")

    def cell(db: str, *path: str, digits: int = 0) -> str:
        return _num(_get(results["databases"][db], *path), digits)

    def lat(data: Any) -> str:
        if not isinstance(data, dict):
            return "-"
        return f"{data['p50']:.1f} / {data['p99']:.1f}"

    ptb = _get(results, "ptb", "throughput", "messages_per_second")
    refs = ("service", "direct", "bare")

    def per(db: str, name: str, *path: str) -> Any:
        return _get(results["databases"][db], name, *path)

    def ratio_row(label: str, key: str, goal: float | None, target: str = "") -> None:
        cells = []
        for db in dbs:
            r = ratios(results, db)[key]
            cells.append("-" if r is None else f"{r:.2f} {_verdict(r >= goal) if goal else ''}".strip())
        row(label, cells, target)

    row(
        "service throughput (msg/s)", [cell(db, "service", "throughput", "messages_per_second") for db in dbs]
    )
    row(
        "direct reference (msg/s) [headline]",
        [cell(db, "direct", "throughput", "messages_per_second") for db in dbs],
    )
    row(
        "bare reference, SQLAlchemy async (msg/s)",
        [cell(db, "bare", "throughput", "messages_per_second") for db in dbs],
    )
    row("python-telegram-bot reference (msg/s)", [_num(ptb) for _ in dbs])
    ratio_row("service / direct [headline]", "service_over_direct", 0.5, ">= 0.5")
    ratio_row("service / bare (SQLAlchemy async)", "service_over_bare", None)
    ratio_row("service / python-telegram-bot", "service_over_ptb", None)
    for name in refs:
        row(
            f"{name} webhook p50 / p99 at full load (ms)",
            [lat(per(db, name, "throughput", "latency_ms")) for db in dbs],
        )
    rate = f"{load['open_loop_rate']:.0f}"
    for name in refs:
        row(
            f"open loop {rate} msg/s: {name} rate achieved",
            [
                cell(db, name, "open_loop", "answered_rate")
                + (" (overloaded)" if per(db, name, "open_loop", "overloaded") else "")
                for db in dbs
            ],
            rate if name == "service" else "",
        )
    for name in refs:
        cells = []
        for db in dbs:
            data = per(db, name, "open_loop", "latency_ms")
            ok = isinstance(data, dict) and data["p99"] < 100 and not per(db, name, "open_loop", "overloaded")
            verdict = f" {_verdict(ok)}" if name == "service" else ""
            cells.append(f"{lat(data)}{verdict}" if isinstance(data, dict) else "-")
        row(f"open loop {rate} msg/s: {name} p50 / p99 (ms)", cells, "p99 < 100" if name == "service" else "")
    limit = load.get("p99_search_limit_ms", 250)
    for name in refs:
        row(f"{name}: p99 <= {limit:.0f} ms up to (msg/s)", [_knee(per(db, name, "p99_knee")) for db in dbs])
    row(
        "CPU per message: service / direct / bare (ms)",
        [
            " / ".join(_num(per(db, name, "throughput", "server_cpu_ms_per_message"), 2) for name in refs)
            for db in dbs
        ],
    )
    row(
        "CPU per message: python-telegram-bot (ms)",
        [_num(_get(results, "ptb", "throughput", "server_cpu_ms_per_message"), 2) for _ in dbs],
    )
    row(
        "machine idle: service / direct / bare runs (%)",
        [
            " / ".join(
                _num(v * 100 if isinstance(v := per(db, name, "throughput", "machine_idle"), float) else None)
                for name in refs
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
    row("direct reference peak RSS (MB)", [cell(db, "direct", "peak_rss_mb", digits=1) for db in dbs])
    row("bare reference peak RSS (MB)", [cell(db, "bare", "peak_rss_mb", digits=1) for db in dbs])
    row("python-telegram-bot peak RSS (MB)", [_num(_get(results, "ptb", "peak_rss_mb"), 1) for _ in dbs])
    problems = []
    for db in dbs:
        for name in ("service", "direct", "bare"):
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
    lines += profiles(results)
    if "wall_seconds" in results:
        lines += ["", f"Wall time: {results['wall_seconds']:.0f} s"]
    return "\n".join(lines)
