"""Every file dpoloop keeps, through one layer with two backends: a local directory (the data dir, the
default) or an S3-compatible object store (`s3://bucket/prefix`, through fsspec and s3fs; credentials and
endpoint from the usual AWS variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL).

Files are named by keys relative to the storage root, as rows store them: media/…, latents/…,
checkpoints/…, reward/…. A folder (a checkpoint, a preference model) is published whole or not at all:
its files first, then MANIFEST.json naming them; a folder without its manifest is never read, so a
half-uploaded checkpoint cannot be loaded. On the local backend a published folder is renamed into
place, which is atomic by itself.

Workers read through a local cache (`local_file`, `local_dir`) capped in size: what they load again
(a checkpoint, a round's latents) comes from disk, the least recently used goes first.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath

import fsspec
from fsspec.implementations.local import LocalFileSystem

from core.files import PARTIAL, files_in, write_folder_whole, write_whole

MANIFEST = "MANIFEST.json"


class StoreUnavailable(RuntimeError):
    """The object store could not be reached or refused the request: a passing outage, retry later."""


class NotPublished(FileNotFoundError):
    """A folder without its manifest: never published, or its upload did not finish."""


def check_key(key: str) -> str:
    """A key names a file under the root: relative, no '..', no empty parts."""
    if "\\" in key or any(part in ("", ".", "..") for part in key.split("/")):  # also "", "/x", "a//b", "a/"
        raise ValueError(f"not a storage key: {key!r}")
    return key


def _remove_local(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class Storage:
    def __init__(self, url: str, cache_dir: Path, cache_bytes: int):
        options = {"use_listings_cache": False, "skip_instance_cache": True} if url.startswith("s3://") else {}
        if endpoint := os.environ.get("AWS_ENDPOINT_URL") if url.startswith("s3://") else None:
            options["endpoint_url"] = endpoint
        self.url = url
        self.fs, root = fsspec.core.url_to_fs(url, **options)
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        self.cache_dir, self.cache_bytes = Path(cache_dir), cache_bytes

    def __repr__(self) -> str:
        return f"Storage({self.url!r})"

    def path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def _remote(self, call, *args):
        """Run an fsspec call; a store that cannot answer becomes StoreUnavailable (missing keys stay
        FileNotFoundError: they are an answer, not an outage). A local disk's errors stay what they are."""
        if self.local:
            return call(*args)
        try:
            return call(*args)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, RuntimeError) as exc:
            raise StoreUnavailable(f"object store {self.url}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # botocore's and aiohttp's own kinds
            if type(exc).__module__.split(".")[0] in ("botocore", "aiobotocore", "aiohttp", "s3fs"):
                raise StoreUnavailable(f"object store {self.url}: {type(exc).__name__}: {exc}") from exc
            raise

    def ensure_bucket(self) -> bool:
        """Create the store's bucket when it does not exist (`dpoloop migrate` does, once per install);
        whether it was created."""
        bucket = self.root.split("/")[0]
        if self.local or self._remote(self.fs.exists, bucket):
            return False
        self._remote(self.fs.mkdir, bucket)
        return True

    # ---- single files ---------------------------------------------------------------------------
    def write_bytes(self, key: str, data: bytes) -> None:
        """Whole or not at all: locally a temporary file, fsynced, renamed over the key (and the rename
        made durable); in an object store one PUT, which readers see whole or not at all."""
        if not self.local:
            return self._remote(self.fs.pipe_file, self.path(key), data)
        path = Path(self.path(key))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, data, durable_rename=True)

    def read_bytes(self, key: str) -> bytes:
        return self._remote(self.fs.cat_file, self.path(key))

    def exists(self, key: str) -> bool:
        return bool(self._remote(self.fs.exists, self.path(key)))

    def delete(self, key: str) -> None:
        """Gone afterwards (absent already is fine)."""
        with contextlib.suppress(FileNotFoundError):
            self._remote(self.fs.rm_file, self.path(key))
        if not self.local:
            _remove_local(self.cache_dir / key)

    def local_file(self, key: str) -> Path:
        """A path on this machine holding the key's bytes: the file itself on the local backend, else a
        cached copy (downloaded whole, then renamed into the cache)."""
        if self.local:
            return Path(self.path(key))
        cached = self.cache_dir / check_key(key)
        if cached.is_file():
            os.utime(cached)  # recently used
            return cached
        data = self.read_bytes(key)
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_whole(cached, data)
        self.trim_cache()
        return cached

    def prefetch(self, keys: list[str], chunk: int = 64) -> int:
        """Bring many files into the cache with concurrent requests (a round's latents: one round trip per
        chunk instead of per file); keys missing from the store are skipped (their readers find out), keys
        cached already are not fetched again. How many files were downloaded."""
        if self.local:
            return 0
        wanted = [key for key in dict.fromkeys(keys) if not (self.cache_dir / check_key(key)).is_file()]
        fetched = 0
        for start in range(0, len(wanted), chunk):
            part = {self.path(key): key for key in wanted[start : start + chunk]}
            got = self._remote(self.fs.cat, list(part), False, "omit")  # {path: bytes}, the missing left out
            for path, data in got.items():
                cached = self.cache_dir / part[path]
                cached.parent.mkdir(parents=True, exist_ok=True)
                write_whole(cached, data)
            fetched += len(got)
        self.trim_cache()
        return fetched

    def files_under(self, prefix: str) -> list[str]:
        """The files of a key: [""] when the key is a file itself, else the names below it (relative,
        sorted); [] when there is nothing. For folders put there by hand (an import), which have no
        manifest."""
        if self.local:
            path = Path(self.path(prefix))
            return [""] if path.is_file() else files_in(path)
        full = self.path(prefix)
        if self._remote(self.fs.isfile, full):
            return [""]
        return sorted(PurePosixPath(p).relative_to(full).as_posix() for p in self._remote(self.fs.find, full))

    def local_tree(self, prefix: str) -> Path:
        """A file or folder put in the store by hand, on this machine: every file under the key brought into
        the cache (each whole), the cached path returned. The local backend's is the path itself."""
        if self.local:
            return Path(self.path(prefix))
        names = self.files_under(prefix)
        self.prefetch([f"{prefix}/{name}" if name else prefix for name in names])
        return self.cache_dir / prefix

    # ---- folders ----------------------------------------------------------------------------------
    def put_dir(self, prefix: str, fill) -> None:
        """Publish a new folder under `prefix`: `fill(tmp)` writes its files into a local folder, then the
        folder appears whole or not at all. Locally the folder is renamed into place; in an object store
        its files are uploaded, then the manifest naming them, and this machine keeps the folder in its
        cache. A published folder is never overwritten (FileExistsError)."""
        check_key(prefix)

        def with_manifest(tmp: Path) -> None:
            fill(tmp)
            (tmp / MANIFEST).write_bytes(_manifest_of(tmp))

        if self.local:
            write_folder_whole(Path(self.path(prefix)), with_manifest)
            return
        if self.exists(f"{prefix}/{MANIFEST}"):
            raise FileExistsError(f"{prefix} is already published")
        cached = self.cache_dir / prefix
        tmp = cached.with_name(f"{cached.name}.{uuid.uuid4().hex[:8]}{PARTIAL}")
        try:
            tmp.mkdir(parents=True)
            with_manifest(tmp)
            for name in json.loads((tmp / MANIFEST).read_bytes())["files"]:
                self._remote(self.fs.put_file, str(tmp / name), self.path(f"{prefix}/{name}"))
            self._remote(self.fs.put_file, str(tmp / MANIFEST), self.path(f"{prefix}/{MANIFEST}"))  # last: before
            # it, the folder does not exist for readers
            shutil.rmtree(cached, ignore_errors=True)
            tmp.rename(cached)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.trim_cache()

    def folder_files(self, prefix: str) -> set[str]:
        """The names of a published folder's files, without downloading them: its manifest in an object
        store, a listing on the local backend (folders written before manifests existed have none);
        NotPublished when there is no such folder."""
        if not self.local:
            return set(self.manifest(prefix))
        folder = Path(self.path(prefix))
        if not folder.is_dir():
            raise NotPublished(f"{prefix} is not published (no such folder)")
        return set(files_in(folder))

    def manifest(self, prefix: str) -> dict[str, int]:
        """The published folder's files and sizes; NotPublished without a manifest."""
        try:
            return json.loads(self.read_bytes(f"{prefix}/{MANIFEST}"))["files"]
        except FileNotFoundError as exc:
            raise NotPublished(f"{prefix} is not published (no {MANIFEST}: never written or its upload broke "
                               "off)") from exc  # fmt: skip

    def local_dir(self, prefix: str) -> Path:
        """A folder on this machine with the published folder's files: the folder itself on the local
        backend, else a cached copy, downloaded whole before it is renamed into the cache."""
        if self.local:
            return Path(self.path(prefix))
        cached = self.cache_dir / check_key(prefix)
        if (cached / MANIFEST).is_file():
            os.utime(cached)
            return cached
        files = self.manifest(prefix)
        tmp = cached.with_name(f"{cached.name}.{uuid.uuid4().hex[:8]}{PARTIAL}")
        try:
            for name in files:
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                self._remote(self.fs.get_file, self.path(f"{prefix}/{name}"), str(tmp / name))
            (tmp / MANIFEST).write_text(json.dumps({"files": files}))
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(cached, ignore_errors=True)  # a leftover without its manifest
            tmp.rename(cached)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.trim_cache()
        return cached

    def delete_dir(self, prefix: str) -> None:
        """The manifest first (the folder stops existing for readers), then its files."""
        self.delete(f"{check_key(prefix)}/{MANIFEST}")
        with contextlib.suppress(FileNotFoundError):
            self._remote(self.fs.rm, self.path(prefix), True)
        shutil.rmtree(self.cache_dir / prefix, ignore_errors=True)

    # ---- the cache --------------------------------------------------------------------------------
    def trim_cache(self) -> None:
        """Delete the least recently used cached files and folders until the cache fits its cap (a
        published folder goes as one; downloads under way, *.part, are left alone)."""
        if self.local or not self.cache_dir.is_dir():
            return
        entries = []  # (last use, bytes, path)

        def walk(folder: Path) -> None:
            for path in folder.iterdir():
                if PARTIAL in path.name:
                    continue
                if path.is_dir() and (path / MANIFEST).is_file():
                    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                    entries.append((path.stat().st_mtime, size, path))
                elif path.is_dir():
                    walk(path)
                else:
                    entries.append((path.stat().st_mtime, path.stat().st_size, path))

        walk(self.cache_dir)
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries, key=lambda e: e[0]):
            if total <= self.cache_bytes:
                break
            _remove_local(path)
            total -= size

    def presigned_url(self, key: str, expires_s: int) -> str | None:
        """A link the store itself answers for `expires_s` seconds (None on the local backend)."""
        if self.local:
            return None
        return self._remote(self.fs.sign, self.path(key), expires_s)


def _manifest_of(folder: Path) -> bytes:
    files = [name for name in files_in(folder) if name != MANIFEST]
    return json.dumps({"files": {f: (folder / f).stat().st_size for f in files}}, indent=1).encode()


MEDIA, LATENTS = "media", "latents"  # key prefixes of a generation's image and its final latents
IMPORTS = "imports"  # where admins upload preference data to import, when files live in an object store

_stores: dict[tuple, Storage] = {}


def storage(settings) -> Storage:
    """The install's storage: DPOLOOP_STORAGE_URL when set (an object store several machines share), else
    the data dir (one machine). One instance per setting and process."""
    url = settings.storage_url or str(settings.data_dir)
    key = (url, str(settings.data_dir), settings.storage_cache_gb)
    if key not in _stores:
        _stores[key] = Storage(url, settings.data_dir / "cache", int(settings.storage_cache_gb * 2**30))
    return _stores[key]


def local_folder(settings, stored: str) -> Path:
    """The folder a row names (a checkpoint, a preference model), on this machine: a key is read through
    the storage (downloaded once into the cache from an object store); an absolute path (a folder
    registered from outside the data dir) is that path."""
    return Path(stored) if Path(stored).is_absolute() else storage(settings).local_dir(stored)


def media_file(settings, relpath: str) -> Path:
    """A generation's image on this machine (rows store it relative to media/)."""
    return storage(settings).local_file(f"{MEDIA}/{relpath}")


def prefetch_latents(settings, relpaths: list[str]) -> None:
    """Many generations' latents brought onto this machine at once (a round's pairs)."""
    storage(settings).prefetch([f"{LATENTS}/{relpath}" for relpath in relpaths])


def latents_file(settings, relpath: str) -> Path:
    """A generation's (or an imported pair's) latents on this machine (relative to latents/)."""
    return storage(settings).local_file(f"{LATENTS}/{relpath}")
