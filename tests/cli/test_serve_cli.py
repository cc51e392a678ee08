"""``mixlab serve`` (src/mixlab/cli/serve.py): options and a clear error for a busy port."""

from __future__ import annotations

import socket

import pytest

from mixlab.cli.main import build_parser, main


def test_defaults_are_local_and_port_8000() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.data) == ("127.0.0.1", 8000, None)
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000", "--data", "d"])
    assert (args.host, args.port, args.data) == ("0.0.0.0", 9000, "d")


def test_busy_port_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--data", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "--port" in err
    assert not (tmp_path / "data").exists()  # nothing started
