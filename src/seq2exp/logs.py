"""Logging set-up for pipeline steps: messages go to the rule's log file and to stderr."""

import logging
import sys
from pathlib import Path


def log_to(path: str, append: bool = False) -> None:
    """Log to `path` and stderr; an uncaught exception's traceback goes to both, then the
    interpreter exits non-zero as usual (Snakemake points users at the log). `append`: keep what
    the log holds (a training job's further DDP processes write into their first's log)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not append:
        Path(path).write_text("")
    # mode "a" (O_APPEND) even for the first process: writers sharing the log then add whole lines
    # at its end instead of overwriting each other's at their own offsets
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.FileHandler(path, mode="a"), logging.StreamHandler(sys.stderr)],
        force=True,
    )
    sys.excepthook = _log_uncaught


def _log_uncaught(kind, error, traceback) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("seq2exp").critical("uncaught error", exc_info=(kind, error, traceback))
