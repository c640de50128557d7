"""``moss``: the command line. Each subpackage adds its own subcommands (``register(subparsers)``)."""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that add subcommands; each exposes ``register(subparsers)`` and keeps heavy imports inside functions.
COMMAND_MODULES = (
    "moss_plugins.demo",
    "moss_plugins.reward.cli",
    "moss_plugins.data.cli",
    "moss_plugins.viz.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moss", description="MOSS-ChatV reward and MOSS-Video tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
