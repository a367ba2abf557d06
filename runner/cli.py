"""Command-line entry point: parse arguments, dispatch to runner.commands, map errors to exit codes.

Exit codes: 0 success, 1 expected failure (invalid spec, failed run, plan has changes with
--detailed-exitcode), 2 usage error, 3 bug (traceback written to .qrun/debug.log), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from runner import __version__
from runner.config import find_repo_root, read_environment
from runner.errors import QrunError, SpecError
from runner.interrupts import sigterm_as_interrupt
from runner.output import LOG_FORMATS, configure_logs

FORMAT_HELP = {
    "text": "text: a table on a terminal, plain lines in CI or when piped",
    "markdown": "markdown: a Markdown document (the pull-request comment)",
    "json": "json: one versioned JSON envelope on stdout",
}
TRIGGER_HELP = (
    "why this run happens, recorded in the lock (default: from the GitHub event, else manual)"
)
ONLY_HELP = "restrict to this spec name (repeatable)"


def _format(p: argparse.ArgumentParser, *choices: str) -> None:
    p.add_argument(
        "--format",
        choices=choices,
        default="text",
        help="output format; " + "; ".join(FORMAT_HELP[c] for c in choices),
    )


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=argparse.SUPPRESS,
        help="stderr events as text (default) or one JSON object per line "
        "(also QRUN_LOG_FORMAT=json)",
    )
    parser = argparse.ArgumentParser(
        prog="qrun",
        description="Experiments-as-code for IBM Quantum: TOML specs in git, a stateless runner, "
        "Markdown reports.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"qrun {__version__}")
    parser.add_argument("--repo", help="repository root (default: nearest directory with specs/)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[common])

    p = command("validate", "check specs: syntax, schema, templates, QASM, widths")
    p.add_argument("paths", nargs="*", help="spec files (default: every spec under specs/)")
    p.add_argument("--verbose", "-v", action="store_true", help="show run hash and circuits")
    _format(p, "text", "json")

    p = command("show", "a spec's run identity and expanded circuits")
    p.add_argument("spec", help="spec name or path")
    _format(p, "text", "json")

    p = command("templates", "list the circuit templates and their parameters")
    _format(p, "text", "json")

    p = command("plan", "what apply would do, and why")
    _format(p, "text", "markdown", "json")
    p.add_argument(
        "--base", help="git ref to diff against (pull requests): plan only changed specs"
    )
    p.add_argument("--trigger", choices=["merge", "schedule", "manual"], default=None,
                   help=TRIGGER_HELP)  # fmt: skip
    p.add_argument("--only", action="append", default=[], help=ONLY_HELP)
    p.add_argument(
        "--preview",
        action="store_true",
        help="simulate the circuits of planned submissions: noiseless distribution or "
        "expectation values, and a noisy preview when the target has a fake twin",
    )
    p.add_argument("--shard", default=None, help="plan only shard K of N (K/N, as apply)")
    p.add_argument(
        "--summary",
        metavar="PATH",
        default=None,
        help="with --format markdown, also append the uncut plan to PATH (the job summary)",
    )
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

    p = command("apply", "carry out the plan: submit, collect, store, report")
    p.add_argument("--trigger", choices=["merge", "schedule", "manual"], default=None,
                   help=TRIGGER_HELP)  # fmt: skip
    p.add_argument("--only", action="append", default=[], help=ONLY_HELP)
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument(
        "--shard", default=None, help="carry out only shard K of N (K/N, stable by spec name)"
    )
    p.add_argument("--commit", action="store_true", help="commit locks and reports")
    p.add_argument("--push", action="store_true", help="commit and push (default under CI=true)")
    p.add_argument("--no-push", action="store_true", help="never push (wins over --push and CI)")
    _format(p, "text", "json")

    p = command("status", "the terminal dashboard: experiments, pending jobs, results, budget")
    _format(p, "text", "json")
    p.add_argument(
        "--watch",
        action="store_true",
        help="refresh (with backoff) until the pending jobs finish",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=5.0,
        help="seconds before the first --watch refresh; doubles each time, up to 60 (default 5)",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="do not ask the service: show the recorded job states",
    )

    command("report", "re-render reports from locks and stored results")

    p = command("retry", "re-submit a spec whose last run failed or was cancelled")
    p.add_argument("name", help="spec name")

    p = command("cancel", "cancel a spec's pending jobs")
    p.add_argument("name", help="spec name")

    p = command("diff", "metric deltas between two runs of a spec")
    p.add_argument("name", help="spec name")
    p.add_argument("runs", nargs="*", help="two run ids (default: the last two)")
    _format(p, "text", "markdown", "json")

    p = command("store", "result store maintenance")
    store = p.add_subparsers(dest="store_command", metavar="STORE_COMMAND", required=True)
    p = store.add_parser("verify", help="re-read every object the locks refer to",
                         parents=[common])  # fmt: skip
    _format(p, "text", "json")

    p = command("pull", "download a run's stored results")
    p.add_argument("name", help="spec name")
    p.add_argument(
        "run_id", nargs="?", help="run id or a unique prefix (default: latest completed)"
    )
    p.add_argument(
        "--dest",
        default=None,
        help="directory outside git or ignored by it (default: .qrun/pull/<name>/<run>)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run qrun with argv (default sys.argv[1:]); return the exit code."""
    args = _parser().parse_args(argv)
    name = args.command + ("_" + args.store_command if args.command == "store" else "")
    try:
        root = Path(args.repo).resolve() if args.repo else find_repo_root(Path.cwd())
        log = configure_logs(getattr(args, "log_format", None), read_environment(root))
    except QrunError as exc:
        print(f"qrun: error: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        module = importlib.import_module(f"runner.commands.{name}")
        with sigterm_as_interrupt():  # a cancelled CI job unwinds: cleanups run
            return int(module.run(args))
    except SpecError as exc:
        for diag in exc.diagnostics:
            log.emit("error", "spec.problem", str(diag), file=diag.path, line=diag.line)
        return exc.exit_code
    except QrunError as exc:
        log.emit("error", "command.failed", f"qrun: error: {exc}", command=name)
        return exc.exit_code
    except KeyboardInterrupt:
        log.emit("error", "command.interrupted", "qrun: interrupted", command=name)
        return 130
    except BrokenPipeError:  # the reader went away (`qrun plan | head`): not a bug
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141  # as a process ended by SIGPIPE
    except Exception:  # the one boundary where bugs are caught, logged and reported
        import traceback

        debug = Path(".qrun") / "debug.log"
        debug.parent.mkdir(exist_ok=True)
        debug.write_text(log.mask(traceback.format_exc()), encoding="utf-8")
        log.emit("error", "command.bug",
                 f"qrun: internal error (a bug); traceback written to {debug}", command=name)  # fmt: skip
        return 3
