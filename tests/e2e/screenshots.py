"""Refresh docs/screenshots/*.png: runs the browser tests with the screenshots kept there.

    python tests/e2e/screenshots.py            # starts its own `mixlab serve`
    MIXLAB_E2E_URL=http://127.0.0.1:8765 python tests/e2e/screenshots.py
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if __name__ == "__main__":
    env = dict(os.environ, MIXLAB_SCREENSHOTS_DIR=str(ROOT / "docs" / "screenshots"), MIXLAB_REQUIRE_BROWSER="1")
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-s", str(ROOT / "tests" / "e2e")], cwd=ROOT, env=env))
