"""Where a generated report comes from: the checkout's commit."""

from __future__ import annotations

import subprocess


def git_commit(cwd: str) -> str:
    """The short commit hash of the checkout at `cwd`, or 'unknown' outside git (e.g. a Bazel sandbox)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
