"""Option spelling shared by the argparse commands."""

from __future__ import annotations

import argparse


def add_option(parser: argparse.ArgumentParser, *names: str, **settings) -> None:
    """An option under each name, each multi-word name spelt with underscores and with dashes
    (`--output_dir`, `--output-dir`), as `stp train` accepts them; the first name is the dest."""
    spellings = [spelling for name in names for spelling in (name, name.replace("_", "-"))]
    parser.add_argument(*dict.fromkeys(spellings), **settings)
