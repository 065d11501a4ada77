"""`gazefusion fixations`: not built yet (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from gazefusion.fusion.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments yet."""


def run(args: argparse.Namespace) -> int:
    """Refuse clearly."""
    raise UserError("this command is not built yet")
