"""The ``acml`` command: thin wrappers over library functions.

Every subcommand group lives beside its library code (``acmlkit/<part>/cli.py``)
and is imported only when it is invoked, so ``acml --help`` starts without numpy,
scipy or torch. This module owns the one error style of every command:

- exit 0: done;
- exit 1: the data or the run failed (a bad file, a failed trial, no network);
- exit 2: the command line is wrong (unknown option, bad value, missing argument);

each with one line ``Error: ...`` on stderr. ``--debug`` (or ``ACMLKIT_DEBUG=1``)
shows the traceback instead.
"""

from __future__ import annotations

import errno
import importlib
import math
import os
import sys

import typer
from typer.core import TyperGroup

from acmlkit import __version__
from acmlkit.errors import RunFailed

# name -> (import path of a Typer app or a command function, one-line help). The help
# is written here so that listing the commands imports none of them.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "mixture": ("acmlkit.mixture.cli:app", "Gaussian mixtures: responsibilities and EM."),
    "mf": ("acmlkit.factorization.cli:app", "Matrix completion by alternating least squares."),
    "nn": ("acmlkit.nets.cli:app", "The notebook's CNN and MLP on images; pixel permutations."),
    "sweep": ("acmlkit.sweeps.cli:sweep", "Run a grid of trials; a rerun resumes."),
    "results": ("acmlkit.sweeps.cli:results", "Print or export a sweep's results."),
    "report": ("acmlkit.report.cli:report", "Run the whole session and write one HTML page."),
}

# Exceptions a user can cause: bad values, bad or missing files, no network, no memory.
# Anything else is a bug: one line that says so, and the traceback under --debug.
USER_ERRORS = (ValueError, OSError, MemoryError, RunFailed)

_INTERNAL = "internal error"


def _prepare(command) -> None:
    """Make a loaded command follow the shell's rules, so no subcommand has to remember them.

    - A NaN or infinite number in any float option is a usage error (its callback is
      wrapped to check every value first).
    - Help is plain text, as at the top level (rich boxes cost ~0.5 s of imports).
    """
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    if getattr(command, "commands", None) is not None:
        for sub in command.commands.values():
            _prepare(sub)
        return
    callback = command.callback
    if callback is None or getattr(callback, "_acml_guarded", False):
        return
    flags = {p.name: "/".join(p.opts) for p in command.params}

    def guarded(*args, **kwargs):
        for name, value in kwargs.items():
            values = value if isinstance(value, (list, tuple)) else (value,)
            for item in values:
                if isinstance(item, float) and not math.isfinite(item):
                    raise typer.BadParameter(
                        f"expected a finite number, got {item}", param_hint=flags.get(name, name)
                    )
        return callback(*args, **kwargs)

    guarded._acml_guarded = True
    command.callback = guarded


class LazyGroup(TyperGroup):
    """A group whose subcommands are imported when invoked, and listed without importing."""

    def list_commands(self, ctx) -> list[str]:
        return [*super().list_commands(ctx), *SUBCOMMANDS]

    def get_command(self, ctx, cmd_name: str):
        if cmd_name not in SUBCOMMANDS:
            return super().get_command(ctx, cmd_name)
        if cmd_name not in self.commands:
            self.commands[cmd_name] = _load(cmd_name)
        return self.commands[cmd_name]

    def format_commands(self, ctx, formatter) -> None:
        rows = [(name, help) for name, (_, help) in SUBCOMMANDS.items()]
        for name in super().list_commands(ctx):
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Run the command and turn every outcome into an exit code and at most one line."""
        args = sys.argv[1:] if args is None else list(args)
        debug = _debug_requested(args)
        try:
            # "acml" whoever calls (a test runner passes its own name).
            rc = super().main(args, "acml", complete_var, standalone_mode=False, **extra)
            # Flush inside the guard: a closed pipe shows up here, not at interpreter exit.
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()
            rc = 0
        except typer.Exit as exc:
            rc = exc.exit_code
        except typer.Abort:
            rc = 130
        except _click_exceptions().NoArgsIsHelpError as exc:
            # A group without its command: the help, and the exit code of a usage error.
            typer.echo(exc.ctx.get_help())
            rc = 2
        except _click_exceptions().ClickException as exc:
            if debug:
                raise
            rc = _fail(_one_line(exc.format_message()) + _usage_hint(exc), exc.exit_code)
        except KeyboardInterrupt:
            rc = 130
        except USER_ERRORS as exc:
            if _is_broken_pipe(exc):
                _quiet_stdout()
                rc = 0
            elif debug:
                raise
            else:
                rc = _fail(_one_line(_message(exc)), 1)
        except Exception as exc:
            if debug:
                raise
            rc = _fail(
                f"{_INTERNAL} ({type(exc).__name__}: {_one_line(str(exc))}); this is a bug in "
                "acmlkit: rerun with --debug for the traceback and report it",
                1,
            )
        if not isinstance(rc, int):
            rc = 0
        elif rc == 130:  # a KeyboardInterrupt (SIGINT; SIGTERM in a sweep), ours or typer's
            _fail("interrupted", rc)
        if standalone_mode:
            sys.exit(rc)
        return rc


def _click_exceptions():
    # typer vendors click; its exception classes are not re-exported at the top level.
    from typer._click import exceptions

    return exceptions


def _load(name: str):
    """Import one subcommand and build its click command."""
    path, _help = SUBCOMMANDS[name]
    module_name, _, attr = path.partition(":")
    target = getattr(importlib.import_module(module_name), attr)
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    _prepare(command)
    return command


def _debug_requested(args: list[str]) -> bool:
    return "--debug" in args or os.environ.get("ACMLKIT_DEBUG", "") not in ("", "0")


def _message(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return f"out of memory ({exc or 'the run needs more memory than this machine has'})"
    if isinstance(exc, OSError) and exc.strerror and exc.filename and str(exc.filename) not in (
        str(exc.args[0]) if exc.args else ""
    ):
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def _usage_hint(exc) -> str:
    ctx = getattr(exc, "ctx", None)
    return f" (see '{ctx.command_path} -h')" if ctx is not None else ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str, code: int) -> int:
    try:
        typer.echo(f"Error: {message}", err=True)
    except (BrokenPipeError, ValueError):
        pass
    return code


def _is_broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


def _quiet_stdout() -> None:
    """After the reader of stdout went away, send what is still buffered nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test runner's buffer): nothing to silence


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"acml {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="acmlkit: mixture models, matrix completion and CNN-vs-MLP experiments.\n\n"
    "Exit codes: 0 done, 1 data or run failed, 2 usage error (one line on stderr).",
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_show_version, is_eager=True,
        help="Print acmlkit's version and exit.",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error (also ACMLKIT_DEBUG=1).",
    ),
) -> None:
    pass


@app.command()
def version() -> None:
    """Print acmlkit's version."""
    typer.echo(__version__)


def main() -> None:
    app(prog_name="acml")

