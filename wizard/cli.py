"""The ``studioml-azure`` command line.

This is the one module of ``wizard/`` allowed to reach the UI (``screens/``), and only lazily,
when the interactive wizard is asked for. Everything else stays headless.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from . import __version__
from .errors import WizardError

S = argparse.SUPPRESS
SANDBOX_DIR_HELP = "state folder (default: in the user data dir; --sandbox-dir, as apply takes it, is the same)"
DEFAULTS: dict[str, Any] = {"sandbox": False, "sandbox_dir": None, "speed": 10.0, "debug": False,
                            "cloud": "AzureCloud", "arm_endpoint": None, "authority": None, "graph_endpoint": None,
                            "prices_endpoint": None, "registry_endpoint": None, "ca_bundle": None}


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name (defaults are applied once, in :func:`_opt`)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--sandbox", action="store_true", default=S,
                   help="talk to the embedded local sandbox cloud instead of Azure")
    p.add_argument("--sandbox-dir", type=Path, default=S, help="sandbox state folder (default: in the user data dir)")
    p.add_argument("--speed", type=float, default=S,
                   help="sandbox speed factor: real Azure durations are divided by it (default 10)")
    p.add_argument("--debug", action="store_true", default=S, help="show tracebacks on errors")
    p.add_argument("--cloud", default=S, choices=["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"],
                   help="which Azure cloud (default AzureCloud)")
    p.add_argument("--arm-endpoint", default=S, help="Resource Manager URL of another cloud (e.g. a sandbox serve)")
    p.add_argument("--authority", default=S, help="Entra ID authority URL of that cloud")
    p.add_argument("--graph-endpoint", default=S, help="Microsoft Graph URL of that cloud")
    p.add_argument("--prices-endpoint", default=S, help="Retail Prices API URL of that cloud")
    p.add_argument("--registry-endpoint", default=S,
                   help="registry data-plane URL with {host} for the login server (default https://{host})")
    p.add_argument("--ca-bundle", default=S, help="PEM file of CA certificates to trust for that cloud")
    return p


def _parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="studioml-azure", parents=[common],
        description="Install studio-go-runner on Azure GPU clusters, end to end. Without a command, opens "
                    "the interactive wizard.")
    parser.add_argument("--version", action="version", version=f"studioml-azure {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("wizard", parents=[common], help="open the interactive wizard (the default)")
    for name, text in (("plan", "show what apply would create, change or leave, with costs and the az/kubectl "
                                "script"),
                       ("apply", "create or converge everything the answers describe"),
                       ("status", "show what is installed and whether the runner is ready"),
                       ("regions", "list regions offering the answered GPU size, with quota headroom"),
                       ("rotate", "replace the registry's service principal password: a new one in the keyring, "
                                  "every region's pull secret, then the old one removed"),
                       ("client-config", "the StudioML client configuration for experimenters: masked on stdout, "
                                         "or whole, with their credentials, into a 0600 file (--output)"),
                       ("destroy", "delete a region (--region) or the whole install: its resource groups, peering, "
                                   "role assignments, Graph application, kubeconfigs and keyring entries")):
        cmd = sub.add_parser(name, parents=[common], help=text)
        cmd.add_argument("--answers", type=Path,
                         help="answers file (TOML); without one, a person at the terminal is asked, others get the "
                              "defaults")
        cmd.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        if name in ("apply", "destroy"):
            cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        if name == "destroy":
            cmd.add_argument("--region", help="only this added region (default: the whole install)")
        if name == "rotate":
            cmd.add_argument("--experimenters", action="store_true",
                             help="rotate the experimenters' RabbitMQ password and S3 keys instead")
        if name == "client-config":
            cmd.add_argument("--output", type=Path, help="write the configuration with its secrets here (0600)")
    rd = sub.add_parser("render", help="print a generated part of plan's script (a VM body, the cluster's secrets, "
                                       "the runner's or the probe's manifests) for it to pipe on; no sign-in")
    rd.add_argument("what", choices=["vm-rabbitmq", "vm-files", "k8s-base", "k8s-secrets", "runner", "probe",
                                     "settings-rabbitmq", "settings-files", "conf-tag-rabbitmq", "conf-tag-files"])
    rd.add_argument("--tenant", required=True, help="the tenant id whose keyring entries hold the secrets")
    rd.add_argument("--answers", type=Path, required=True, help="the answers (their uniq_id resolved)")
    for flag in ("--nic-id", "--login-server", "--app-id", "--probe-image", "--public-ip"):
        rd.add_argument(flag, default="")
    sb = sub.add_parser("sandbox", help="run or reset the local sandbox cloud on its own")
    sbsub = sb.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = sbsub.add_parser("serve", help="serve the sandbox until SIGTERM/SIGINT; prints one JSON line when ready")
    serve.add_argument("--dir", "--sandbox-dir", dest="dir", type=Path, help=SANDBOX_DIR_HELP)
    serve.add_argument("--speed", type=float, default=1.0, help="divide real Azure durations by this factor")
    serve.add_argument("--faults", default="", help="fault rates, e.g. 429=0.05,500=0.02,reset=0.01,seed=7")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: the last one, or any)")
    stop = sbsub.add_parser("stop", help="stop the sandbox serving in the background (what --sandbox starts)")
    stop.add_argument("--dir", "--sandbox-dir", dest="dir", type=Path, help=SANDBOX_DIR_HELP)
    reset = sbsub.add_parser("reset", help="wipe the sandbox's state")
    reset.add_argument("--dir", "--sandbox-dir", dest="dir", type=Path, help=SANDBOX_DIR_HELP)
    return parser


def _opt(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, DEFAULTS[name])


def default_sandbox_dir() -> Path:
    """Where the embedded sandbox keeps its state unless told otherwise."""
    from .session import default_sandbox_dir as where

    return where()


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import control

    directory = args.dir or _opt(args, "sandbox_dir") or default_sandbox_dir()  # --dir, or the global flag
    if args.sandbox_command == "serve":
        return control.serve_command(directory, speed=args.speed, faults=args.faults, port=args.port)
    if args.sandbox_command == "stop":
        return control.stop_command(directory)
    return control.reset_command(directory)


def _render(args: argparse.Namespace) -> int:
    from .answers import load_answers
    from .scriptparts import render

    try:
        sys.stdout.write(render(args.what, args.tenant, load_answers(args.answers), nic_id=args.nic_id,
                                login_server=args.login_server, app_id=args.app_id, probe_image=args.probe_image,
                                public_ip=args.public_ip))
    except WizardError as err:
        print(f"error: {err.message}" + (f"\n  next: {err.hint}" if err.hint else ""), file=sys.stderr)
        return err.exit_code
    return 0


def _headless(args: argparse.Namespace) -> int:
    from .answers import load_answers
    from .commands import run
    from .prompts import TerminalPrompter
    from .session import Options, is_interactive, open_session

    answers = load_answers(args.answers) if args.answers is not None else None
    interactive = is_interactive()
    opts = Options(**{k: _opt(args, k) for k in ("cloud", "arm_endpoint", "authority", "graph_endpoint",
                                                 "prices_endpoint", "registry_endpoint", "ca_bundle", "sandbox",
                                                 "sandbox_dir", "speed")}, interactive=interactive)
    return run(args.command, lambda: open_session(opts), answers, yes=getattr(args, "yes", False),
               as_json=args.json, output=getattr(args, "output", None),
               experimenters=getattr(args, "experimenters", False), region=getattr(args, "region", None),
               prompter=TerminalPrompter() if interactive else None, debug=_opt(args, "debug"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    if args.command == "sandbox":
        return _sandbox(args)
    if args.command == "render":
        return _render(args)
    if args.command in ("plan", "apply", "status", "regions", "rotate", "client-config", "destroy"):
        try:
            return _headless(args)
        except WizardError as err:
            if _opt(args, "debug"):
                traceback.print_exc()
            print(f"error: {err.message}" + (f"\n  next: {err.hint}" if err.hint else ""), file=sys.stderr)
            if getattr(args, "json", False):
                print(json.dumps({"error": err.message, "hint": err.hint, "exit_code": err.exit_code}))
            return err.exit_code
        except KeyboardInterrupt:
            print("\ninterrupted: run the same command again to resume.", file=sys.stderr)
            return 4
    from screens.app import run_app  # lazily: the UI is only loaded for the interactive wizard

    try:
        return _run_ui(run_app, args)
    except WizardError as err:  # what stops the UI before it draws (an unwritable state folder, no sandbox)
        print(f"error: {err.message}" + (f"\n  next: {err.hint}" if err.hint else ""), file=sys.stderr)
        return err.exit_code


def _run_ui(run_app: Any, args: argparse.Namespace) -> int:
    return int(run_app(sandbox=_opt(args, "sandbox"), sandbox_dir=_opt(args, "sandbox_dir") or default_sandbox_dir(),
                   speed=_opt(args, "speed"), debug=_opt(args, "debug")))


if __name__ == "__main__":
    sys.exit(main())
