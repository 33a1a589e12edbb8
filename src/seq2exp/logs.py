"""Logging set-up for pipeline steps: messages go to the rule's log file and to stderr."""

import logging
import sys
from pathlib import Path


def log_to(path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.FileHandler(path, mode="w"), logging.StreamHandler(sys.stderr)],
        force=True,
    )
