"""``moss``: the command line. Each subpackage adds its own subcommands (``register(subparsers)``).

An ordinary mistake (a missing or unreadable file, a bad row, a bad option) ends any command with one line on
stderr and exit status 2, never a traceback; see :func:`is_ordinary`. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

# Modules that add subcommands; each exposes ``register(subparsers)`` and keeps heavy imports inside functions.
COMMAND_MODULES = (
    "moss_plugins.demos.cli",
    "moss_plugins.evaluation.cli",
    "moss_plugins.data.cli",
    "moss_plugins.viz.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moss", description="MOSS-ChatV reward and MOSS-Video tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        added = importlib.import_module(name).register(sub)
        if (
            name == "moss_plugins.data.cli"
        ):  # each framework owns its row format: export is added above the adapters
            importlib.import_module("moss_plugins.export_cli").add_command(added)
    return parser


def is_ordinary(error: BaseException) -> bool:
    """A mistake in what the user gave rather than a bug: an error type of the project's own (each is raised on
    purpose, its message saying what is wrong and where: ``ValidationError``, ``ConfigError``, ``BuildError``,
    ...; plugins' subclasses of them too), a file that cannot be opened or read (OSError), text that is not
    UTF-8 or JSON."""
    ours = any(cls.__module__.split(".")[0] == "moss_plugins" for cls in type(error).__mro__)
    return ours or isinstance(error, (OSError, UnicodeError, json.JSONDecodeError))


def error_line(error: BaseException) -> str:
    """The error's message on one line ("path: No such file or directory" for an OSError)."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("moss: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if not is_ordinary(e):
            raise
        print(
            f"moss: error: {error_line(e)}", file=sys.stderr
        )  # plain print: brackets in messages stay literal
        return 2


if __name__ == "__main__":
    sys.exit(main())
