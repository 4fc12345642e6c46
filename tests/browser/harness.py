"""What the browser tests need from the machine: Playwright for Python and a Chromium binary.

Playwright's own browser download is not used: the tests drive the system's Chromium (Debian's
`chromium` package, /usr/bin/chromium), or whatever CHROMIUM_PATH names.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support import BASE_DIR

DEFAULT_CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = BASE_DIR / "tests" / "artifacts"


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM


def missing_browser() -> str | None:
    """Why the browser tests cannot run here (one sentence), or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ("the playwright package is missing "
                "(`make test` installs it from requirements-dev.txt)")
    path = chromium_path()
    resolved = shutil.which(path) if not os.path.isabs(path) else path
    if not resolved or not Path(resolved).is_file() or not os.access(resolved, os.X_OK):
        return (f"no Chromium at {path} "
                "(install Debian's chromium package, or set CHROMIUM_PATH to a Chromium binary)")
    return None


def require_browser() -> None:
    """Skip the calling test module (one line) when no browser can run here; under CI
    (CI=true) fail instead, since CI must run them. Call it before importing playwright."""
    import pytest

    reason = missing_browser()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run, and CI must run them: {reason}",
                        pytrace=False)
        pytest.skip(f"browser tests skipped: {reason}", allow_module_level=True)
