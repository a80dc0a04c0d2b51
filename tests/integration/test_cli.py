"""The `helpline` command as an operator runs it: a bad setting is one line naming it, never a traceback."""

from __future__ import annotations

import select
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from intake.storage.db import alembic_config
from tests.conftest import HELPLINE_COMMAND, REPO

SECRET = "sAJ7OV5aIspMkMyOpCC-50VaNDNyjMJ1_Bcz1JLppDM"


def helpline(tmp_path: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the command with only these settings (and a PATH), in an empty directory."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    return subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [*HELPLINE_COMMAND, *args],
        env={**base, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,  # `serve` with a good configuration would run on: that is a failure too
        check=False,
    )


def assert_one_line_naming(result: subprocess.CompletedProcess[str], *names: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("helpline: ")
    for name in names:
        assert name in line
    assert result.stdout == ""
    return line


def write(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}"


COMMANDS = ["migrate", "serve"]


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_secret_key_in_production(tmp_path: Path, command: str) -> None:
    result = helpline(
        tmp_path,
        [command, "--port", "0"] if command == "serve" else [command],
        {
            "HELPLINE_DATABASE_URL": sqlite_url(tmp_path),
        },
    )
    line = assert_one_line_naming(result, "HELPLINE_SECRET_KEY")
    assert "required" in line
    assert not (tmp_path / "helpline.db").exists()  # nothing was touched


def test_short_secret_key(tmp_path: Path) -> None:
    result = helpline(
        tmp_path, ["migrate"], {"HELPLINE_SECRET_KEY": "short", "HELPLINE_DATABASE_URL": sqlite_url(tmp_path)}
    )
    assert_one_line_naming(result, "HELPLINE_SECRET_KEY")


def test_development_needs_no_secret_key(tmp_path: Path) -> None:
    result = helpline(
        tmp_path, ["migrate"], {"HELPLINE_ENV": "development", "HELPLINE_DATABASE_URL": sqlite_url(tmp_path)}
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_development_key_behind_a_public_url_is_one_line(tmp_path: Path, command: str) -> None:
    result = helpline(
        tmp_path,
        [command, "--port", "0"] if command == "serve" else [command],
        {
            "HELPLINE_ENV": "development",
            "HELPLINE_PUBLIC_URL": "https://hjelp.example.no",
            "HELPLINE_DATABASE_URL": sqlite_url(tmp_path),
        },
    )
    assert_one_line_naming(result, "HELPLINE_SECRET_KEY", "HELPLINE_PUBLIC_URL")
    assert not (tmp_path / "helpline.db").exists()


def test_unknown_environment(tmp_path: Path) -> None:
    result = helpline(tmp_path, ["migrate"], {"HELPLINE_ENV": "staging", "HELPLINE_SECRET_KEY": SECRET})
    assert_one_line_naming(result, "HELPLINE_ENV")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "url",
    [
        "mysql://user@localhost/helpline",
        "not a database url",
        "sqlite+aiosqlite:///{tmp}/no-such-directory/helpline.db",
        "postgresql+asyncpg://postgres:hunter2@127.0.0.1:1/helpline",
    ],
    ids=["wrong-driver", "not-a-url", "unopenable-sqlite", "unreachable-postgres"],
)
def test_bad_database_url(tmp_path: Path, command: str, url: str) -> None:
    args = [command, "--port", "0"] if command == "serve" else [command]
    result = helpline(
        tmp_path, args, {"HELPLINE_SECRET_KEY": SECRET, "HELPLINE_DATABASE_URL": url.format(tmp=tmp_path)}
    )
    line = assert_one_line_naming(result, "HELPLINE_DATABASE_URL")
    assert "hunter2" not in line  # a password in the URL is never printed


@pytest.mark.parametrize("problem", ["missing", "directory", "not-toml"])
def test_unreadable_config(tmp_path: Path, problem: str) -> None:
    path = {
        "missing": str(tmp_path / "no-such.toml"),
        "directory": str(tmp_path),
        "not-toml": write(tmp_path, "broken.toml", "[hours\nmon = \n"),
    }[problem]
    args = ["migrate"]
    result = helpline(
        tmp_path,
        args,
        {
            "HELPLINE_SECRET_KEY": SECRET,
            "HELPLINE_DATABASE_URL": sqlite_url(tmp_path),
            "HELPLINE_CONFIG": path,
        },
    )
    assert_one_line_naming(result, "HELPLINE_CONFIG")


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[hours.weekly]\nmon = ["25:00-26:00"]\n', "hours.weekly.mon"),
        ('[hours.weekly]\ntue = ["16:00-09:00"]\n', "hours.weekly.tue"),
        ('[hours.weekly]\nwed = "09:00-16:00"\n', "hours.weekly.wed"),
        ('[hours.channel.webchat.weekly]\nfri = ["9-15"]\n', "hours.channel.webchat.weekly.fri"),
        ('[hours]\ntimezone = "Europe/Nowhere"\n', "hours.timezone"),
    ],
    ids=["hour-25", "backwards", "not-a-list", "channel-span", "timezone"],
)
def test_bad_hours(tmp_path: Path, toml: str, key: str) -> None:
    args = ["migrate"]
    result = helpline(
        tmp_path,
        args,
        {
            "HELPLINE_SECRET_KEY": SECRET,
            "HELPLINE_DATABASE_URL": sqlite_url(tmp_path),
            "HELPLINE_CONFIG": write(tmp_path, "hours.toml", toml),
        },
    )
    assert_one_line_naming(result, "HELPLINE_CONFIG", key)


def test_serve_stops_on_a_bad_config_like_migrate(tmp_path: Path) -> None:
    for toml, name in (
        ("[hours\n", "HELPLINE_CONFIG"),
        ('[hours.weekly]\nmon = ["25:00-26:00"]\n', "hours.weekly.mon"),
    ):
        result = helpline(
            tmp_path,
            ["serve", "--port", "0"],
            {
                "HELPLINE_SECRET_KEY": SECRET,
                "HELPLINE_DATABASE_URL": sqlite_url(tmp_path),
                "HELPLINE_CONFIG": write(tmp_path, "serve.toml", toml),
            },
        )
        assert_one_line_naming(result, name)


def test_a_sender_process_cannot_poll_telegram(tmp_path: Path) -> None:
    result = helpline(
        tmp_path,
        ["serve", "--port", "0", "--role", "sender", "--telegram-polling"],
        {"HELPLINE_SECRET_KEY": SECRET, "HELPLINE_DATABASE_URL": sqlite_url(tmp_path)},
    )
    assert_one_line_naming(result, "--telegram-polling", "--role sender")


def test_an_unknown_role_is_refused_by_the_parser(tmp_path: Path) -> None:
    result = helpline(tmp_path, ["serve", "--role", "both"], {"HELPLINE_SECRET_KEY": SECRET})
    assert result.returncode == 2
    assert "invalid choice: 'both'" in result.stderr


def test_migrate_on_a_new_sqlite_file_succeeds_and_is_idempotent(tmp_path: Path) -> None:
    env = {"HELPLINE_SECRET_KEY": SECRET, "HELPLINE_DATABASE_URL": sqlite_url(tmp_path)}
    for _ in range(2):
        result = helpline(tmp_path, ["migrate"], env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "database is up to date"
        assert result.stderr == ""
    with sqlite3.connect(tmp_path / "helpline.db") as conn:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert version == [(ScriptDirectory.from_config(alembic_config()).get_current_head(),)]
    assert {"contacts", "conversations", "messages", "outbox", "stat_records", "inbound_seen"} <= tables


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_says_where_it_listens(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "HELPLINE_ENV": "development",
        "HELPLINE_DATABASE_URL": sqlite_url(tmp_path),
    }
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [*HELPLINE_COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "nothing printed within 30 s"
        line = process.stdout.readline()
        assert line == f"helpline: serving http://127.0.0.1:{port}/chat and /staff\n"
        # Printed once it listens: the address answers.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        process.terminate()
        process.wait(timeout=30)


def readme_line(containing: str) -> str:
    lines = [
        line for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines() if containing in line
    ]
    assert len(lines) == 1, lines
    return lines[0].split("  #")[0].strip()


def test_the_readmes_staff_add_works_as_written_next_to_make_run(tmp_path: Path) -> None:
    """In a fresh shell (no secret key, no HELPLINE_ENV) after `make run` made `.local/helpline.db`."""
    (tmp_path / ".local").mkdir()
    (tmp_path / ".venv").symlink_to(Path(HELPLINE_COMMAND[0]).parents[1], target_is_directory=True)
    made = helpline(
        tmp_path,
        ["migrate"],
        {"HELPLINE_ENV": "development", "HELPLINE_DATABASE_URL": "sqlite+aiosqlite:///.local/helpline.db"},
    )
    assert made.returncode == 0, made.stderr
    command = readme_line("helpline staff add anna")
    result = subprocess.run(  # noqa: S602 - the README's own line, as a person pastes it into a shell
        command,
        shell=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"},
        cwd=tmp_path,
        input="correct horse battery staple\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "added anna"
    with sqlite3.connect(tmp_path / ".local" / "helpline.db") as conn:
        assert conn.execute("SELECT name FROM staff").fetchall() == [("anna",)]
