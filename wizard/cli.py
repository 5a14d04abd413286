"""The ``studioml-azure`` command line.

This is the one module of ``wizard/`` allowed to reach the UI (``screens/``), and only lazily,
when the interactive wizard is asked for. Everything else stays headless.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studioml-azure",
        description="Install studio-go-runner on Azure GPU clusters, end to end. Without a command, opens "
                    "the interactive wizard.",
    )
    parser.add_argument("--version", action="version", version=f"studioml-azure {__version__}")
    parser.add_argument("--sandbox", action="store_true",
                        help="talk to the embedded local sandbox cloud instead of Azure")
    parser.add_argument("--sandbox-dir", type=Path, help="sandbox state folder (default: in the user data dir)")
    parser.add_argument("--speed", type=float, default=10.0,
                        help="sandbox speed factor: real Azure durations are divided by it (default 10)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("wizard", help="open the interactive wizard (the default)")
    sb = sub.add_parser("sandbox", help="run or reset the local sandbox cloud on its own")
    sbsub = sb.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = sbsub.add_parser("serve", help="serve the sandbox until SIGTERM/SIGINT; prints one JSON line when ready")
    serve.add_argument("--dir", type=Path, help="state folder (default: in the user data dir)")
    serve.add_argument("--speed", type=float, default=1.0, help="divide real Azure durations by this factor")
    serve.add_argument("--faults", default="", help="fault rates, e.g. 429=0.05,500=0.02,reset=0.01,seed=7")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: the last one, or any)")
    reset = sbsub.add_parser("reset", help="wipe the sandbox's state")
    reset.add_argument("--dir", type=Path, help="state folder (default: in the user data dir)")
    return parser


def default_sandbox_dir() -> Path:
    """Where the embedded sandbox keeps its state unless told otherwise."""
    import platformdirs

    return Path(platformdirs.user_data_dir("studioml-azure")) / "sandbox"


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import control

    directory = args.dir or default_sandbox_dir()
    if args.sandbox_command == "serve":
        return control.serve_command(directory, speed=args.speed, faults=args.faults, port=args.port)
    return control.reset_command(directory)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    if args.command == "sandbox":
        return _sandbox(args)
    from screens.app import run_app  # lazily: the UI is only loaded for the interactive wizard

    return run_app(sandbox=args.sandbox, sandbox_dir=args.sandbox_dir or default_sandbox_dir(), speed=args.speed)


if __name__ == "__main__":
    sys.exit(main())
