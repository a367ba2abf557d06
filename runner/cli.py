"""Command-line entry point: parse arguments, dispatch to runner.commands, map errors to exit codes.

Exit codes: 0 success, 1 expected failure (invalid spec, failed run, plan has changes with
--detailed-exitcode), 2 usage error, 3 bug (traceback written to .qrun/debug.log), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from runner import __version__
from runner.errors import QrunError, SpecError
from runner.interrupts import sigterm_as_interrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qrun",
        description="Experiments-as-code for IBM Quantum: TOML specs in git, a stateless runner, "
        "Markdown reports.",
    )
    parser.add_argument("--version", action="version", version=f"qrun {__version__}")
    parser.add_argument("--repo", help="repository root (default: nearest directory with specs/)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("validate", help="check specs: syntax, schema, templates, QASM, widths")
    p.add_argument("paths", nargs="*", help="spec files (default: every spec under specs/)")
    p.add_argument("--verbose", "-v", action="store_true", help="show run hash and circuits")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser("show", help="a spec's run identity and expanded circuits")
    p.add_argument("spec", help="spec name or path")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser("templates", help="list the circuit templates and their parameters")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser("plan", help="what apply would do, and why")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    p.add_argument(
        "--base", help="git ref to diff against (pull requests): plan only changed specs"
    )
    p.add_argument("--trigger", choices=["merge", "schedule", "manual"], default=None)
    p.add_argument("--only", action="append", default=[], help="restrict to these spec names")
    p.add_argument("--preview", action="store_true", help="simulate small circuits for a preview")
    p.add_argument("--shard", default=None, help="plan only shard K of N (K/N, as apply)")
    p.add_argument(
        "--shards",
        type=int,
        default=None,
        help="runners in the GitHub Actions matrix of --format json (default: from the work)",
    )
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there is nothing to do, 2 when there are changes",
    )

    p = sub.add_parser("apply", help="carry out the plan: submit, collect, store, report")
    p.add_argument("--trigger", choices=["merge", "schedule", "manual"], default=None)
    p.add_argument("--only", action="append", default=[], help="restrict to these spec names")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument(
        "--shard", default=None, help="carry out only shard K of N (K/N, stable by spec name)"
    )
    p.add_argument("--commit", action="store_true", help="commit locks and reports")
    p.add_argument("--push", action="store_true", help="commit and push (default under CI=true)")
    p.add_argument("--no-push", action="store_true", help="never push (wins over --push and CI)")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser("report", help="re-render reports from locks and stored results")

    p = sub.add_parser("retry", help="re-submit a spec whose last run failed")
    p.add_argument("name")

    p = sub.add_parser("cancel", help="cancel a spec's pending jobs")
    p.add_argument("name")

    p = sub.add_parser("diff", help="metric deltas between two runs of a spec")
    p.add_argument("name")
    p.add_argument("runs", nargs="*", help="two run ids (default: the last two)")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")

    p = sub.add_parser("store", help="result store maintenance")
    store = p.add_subparsers(dest="store_command", required=True)
    p = store.add_parser("verify", help="re-read every object the locks refer to")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser("pull", help="download a run's stored results")
    p.add_argument("name")
    p.add_argument("run_id", nargs="?")
    p.add_argument("--dest", default=None, help="directory (default: ./qrun-pull/<name>/<run>)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run qrun with argv (default sys.argv[1:]); return the exit code."""
    args = _parser().parse_args(argv)
    name = args.command + ("_" + args.store_command if args.command == "store" else "")
    try:
        module = importlib.import_module(f"runner.commands.{name}")
        with sigterm_as_interrupt():  # a cancelled CI job unwinds: cleanups run
            return int(module.run(args))
    except SpecError as exc:
        for diag in exc.diagnostics:
            print(diag, file=sys.stderr)
        return exc.exit_code
    except QrunError as exc:
        print(f"qrun: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("qrun: interrupted", file=sys.stderr)
        return 130
    except Exception:  # the one boundary where bugs are caught, logged and reported
        log = Path(".qrun") / "debug.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"qrun: internal error (a bug); traceback written to {log}", file=sys.stderr)
        return 3
