"""``mixlab serve``: the web app, API, worker, database and files, on this machine."""

from __future__ import annotations

import argparse
import os
import socket

from mixlab.errors import InvalidParameterError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the web app (upload, mix, notes, master, download) in your browser",
        description="Start the mixlab web app: the page, the API, a job worker, SQLite and files on local disk. "
        "Nothing else to install; open the printed address in a browser.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: this "
                   "computer only; 0.0.0.0 opens it to your network)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--data", help="folder for sessions, files and the database (default $MIXLAB_DATA or "
                   "./mixlab-data)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from mixlab.service import Settings, create_app

    _check_port_free(args.host, args.port)
    settings = Settings.from_env(data_dir=args.data)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Starlette spools large request bodies to TMPDIR; keep them on the data disk.
    os.environ.setdefault("TMPDIR", str(settings.data_dir.resolve()))
    app = create_app(settings)
    shown = "localhost" if args.host in ("127.0.0.1", "0.0.0.0", "::") else args.host
    print(f"mixlab is running at http://{shown}:{args.port}/  (data in {settings.data_dir.resolve()}; Ctrl+C stops)",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _check_port_free(host: str, port: int) -> None:
    """Fail before starting anything (and before printing the address) if the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidParameterError(
                f"{host}:{port} cannot be used ({exc.strerror or exc}); is mixlab already running there? "
                "Open that address, or start on another port with --port.",
                code="serve.port_in_use", host=host, port=port,
            ) from None
