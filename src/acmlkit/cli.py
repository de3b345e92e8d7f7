"""The ``acml`` command: thin wrappers over library functions.

Every subcommand group lives beside its library code (``acmlkit/<part>/cli.py``);
this module only assembles them and turns known errors into one line on stderr.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from acmlkit import __version__
from acmlkit.factorization.cli import app as mf_app
from acmlkit.mixture.cli import app as mixture_app
from acmlkit.nets.cli import app as nn_app
from acmlkit.report.cli import report
from acmlkit.sweeps.cli import results, sweep

# Errors a user can cause: bad values, bad files, no network. Anything else is a
# bug and keeps its traceback.
USER_ERRORS = (ValueError, OSError, KeyError)


class _FriendlyErrors(TyperGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            typer.echo(f"Error: {message}", err=True)
            raise typer.Exit(code=1) from None


app = typer.Typer(
    cls=_FriendlyErrors,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="acmlkit: mixture models, matrix completion and CNN-vs-MLP experiments.",
)
app.add_typer(mixture_app, name="mixture")
app.add_typer(mf_app, name="mf")
app.add_typer(nn_app, name="nn")
app.command("sweep")(sweep)
app.command("results")(results)
app.command("report")(report)


@app.command()
def version() -> None:
    """Print acmlkit's version."""
    typer.echo(__version__)


def main() -> None:
    app(prog_name="acml")
