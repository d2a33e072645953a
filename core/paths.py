"""Where the checkout's own files are (the data dir is a setting: core.settings), and how the
database names a file of the data dir."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_MODEL_DIR = REPO_ROOT / "models" / "scenes-base"
FRONTEND_DIR = REPO_ROOT / "frontend"
SHIPPED_PROMPTS = Path(__file__).resolve().parent / "data" / "prompts_scenes.txt"
SHIPPED_EVAL_PROMPTS = Path(__file__).resolve().parent / "data" / "eval_prompts_scenes.txt"


def stored_path(data_dir: Path, path: Path) -> str:
    """What a row stores for a file or folder: relative to the data dir when under it, so a copy of the
    data dir elsewhere (a restored backup, another host) finds its own files; anything else absolute. A
    relative path is already a storage key (core/storage.py) and stays itself."""
    if not Path(path).is_absolute():
        return Path(path).as_posix()
    path = Path(path).absolute()
    try:
        return path.relative_to(Path(data_dir).absolute()).as_posix()
    except ValueError:
        return str(path)


def resolve_stored(data_dir: Path, stored: str) -> Path:
    """The file a stored path names: a relative one under the data dir, an absolute one where it says."""
    path = Path(stored)
    return path if path.is_absolute() else Path(data_dir) / path


def resolve_within(root: Path, path: Path) -> Path | None:
    """`path` (a relative one: under `root`) with symbolic links and '..' followed, when it is `root` or
    inside it; None when it leads elsewhere or cannot be resolved (a NUL byte, a link loop)."""
    try:
        real, base = (Path(root) / path).resolve(), Path(root).resolve()  # root / an absolute path is that path
    except (OSError, ValueError, RuntimeError):  # a link loop is RuntimeError up to Python 3.12
        return None
    return real if real.is_relative_to(base) else None


def lies_within(folder: Path, path: Path) -> bool:
    """Whether `path`, with symbolic links and '..' followed, is inside `folder` (and is not `folder`)."""
    real = resolve_within(folder, path)
    return real is not None and real != Path(folder).resolve()
