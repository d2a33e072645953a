"""Where the repository's own files are."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_MODEL_DIR = REPO_ROOT / "models" / "scenes-base"
