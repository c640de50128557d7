"""``moss data ...``: one module per command, each exposing ``add_command(subparsers)``."""

from __future__ import annotations

import importlib

COMMAND_MODULES = (
    "moss_plugins.data.validate",
    "moss_plugins.data.build_cli",
    "moss_plugins.data.synth.cli",
    "moss_plugins.data.stats",
)


def register(sub):
    """Add ``moss data`` and its commands; returns its subparsers (``moss data export`` is added from above the
    adapters, by :mod:`moss_plugins.cli`)."""
    p = sub.add_parser("data", help="MOSS-Video: validate, synthesize, build, export, stats")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_command(data_sub)
    return data_sub
