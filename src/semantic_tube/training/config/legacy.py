"""Older configs' fields (the committed results' stp_config.yaml among them): stp_skip_gap and
stp_gap_origin, read onto the stp_gap that replaced them."""

from __future__ import annotations

import logging
from enum import Enum

from semantic_tube.losses.sampling import GapOrigin
from semantic_tube.methods.options import STPGap
from semantic_tube.training.config.method import option_value
from semantic_tube.training.config.numbers import ConfigError

# The package's name, not this module's: the warning names the logger it always did
# (`stp train` prints it), and a filter or caplog on `semantic_tube.training.config` still sees it.
logger = logging.getLogger("semantic_tube.training.config")

# Fields of older configs (the committed results' stp_config.yaml among them) and the one that
# replaced them; `upgrade_replaced_fields` reads them onto it.
REPLACED_FIELDS = {"stp_skip_gap": "stp_gap", "stp_gap_origin": "stp_gap"}


def _shown(value) -> str:
    return "empty" if value is None else str(value.value if isinstance(value, Enum) else value).lower()


def upgrade_replaced_fields(values: dict, where: str = "") -> dict:
    """A config's values with stp_skip_gap and stp_gap_origin (older configs' fields) read as the
    stp_gap they stand for, logged with their replacement: skip false is none, an origin is that
    origin, skip true alone (or both empty) leaves stp_gap to the form. A ConfigError names both
    fields when they contradict each other, or a stp_gap given beside them. `where` prefixes messages."""
    old = {name: values[name] for name in REPLACED_FIELDS if name in values}
    if not old:
        return values
    values = {key: value for key, value in values.items() if key not in old}
    shown = ", ".join(f"{name}={_shown(value)}" for name, value in old.items())
    skip = old.get("stp_skip_gap")
    skip = True if skip is None else skip if isinstance(skip, bool) else str(skip).lower() in ("true", "yes", "1")
    origin = old.get("stp_gap_origin")
    if origin not in (None, ""):
        try:
            origin = GapOrigin(origin)
        except ValueError:
            raise ConfigError(f"{where}stp_gap_origin: {origin!r} is not one of {[o.value for o in GapOrigin]} (it is replaced by stp_gap)") from None
        if not skip:
            raise ConfigError(
                f"{where}{shown}: stp_gap_origin needs stp_skip_gap=true (straight across there is no gap to restart after); "
                f"both are replaced by stp_gap: give stp_gap={origin.value} or stp_gap=none"
            )
    gap = STPGap.NONE if not skip else STPGap(origin.value) if origin not in (None, "") else None
    if values.get("stp_gap") is not None:
        given = option_value("stp_gap", values["stp_gap"])
        if given is not gap and (gap is not None or given is STPGap.NONE):
            raise ConfigError(
                f"{where}{shown} and stp_gap={given.value} disagree: stp_gap replaces stp_skip_gap and stp_gap_origin; give stp_gap alone"
            )
        gap = given
    read = f"stp_gap={gap.value}" if gap is not None else "stp_gap empty (the form's own: answer_start, or before_answer for span)"
    logger.warning("%s%s: replaced by stp_gap; read as %s", where, shown, read)
    return {**values, "stp_gap": None if gap is None else gap.value}
