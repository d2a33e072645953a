"""Where the checkout's own files are (the data dir is a setting: core.settings)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_MODEL_DIR = REPO_ROOT / "models" / "scenes-base"
FRONTEND_DIR = REPO_ROOT / "frontend"
SHIPPED_PROMPTS = Path(__file__).resolve().parent / "data" / "prompts_scenes.txt"
SHIPPED_EVAL_PROMPTS = Path(__file__).resolve().parent / "data" / "eval_prompts_scenes.txt"
