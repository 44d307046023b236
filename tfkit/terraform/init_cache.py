"""Recorded ``terraform init`` results, restored into a fresh data directory instead of running init.

Every engine has a private ``TF_DATA_DIR``, so every run used to init. After a real init, its data
directory (the backend record ``terraform.tfstate``, ``modules/`` with remote modules downloaded there,
``providers/``) is recorded under ``<cache_dir>/terraform-init/<environment slot>/<fingerprint>/``
(``tfkit.terraform.init_inputs``); the next run with the same fingerprint restores it.

* An entry is assembled in a private temporary directory and renamed into place whole, its
  ``manifest.json`` (every file's size and SHA-256) written last: a reader sees a complete entry or
  none, and two tfkit processes on one environment at once each record or restore safely.
* Restoring copies every file and checks it against the manifest; anything missing, short or different
  is a miss, and init runs for real (never a plan on a wrong data directory). Provider packages, which
  can weigh hundreds of megabytes, are not copied: ``providers`` is a symlink to the entry's own, as
  Terraform's plugin cache links packages, and only their sizes are checked (Terraform checks their
  hashes against ``.terraform.lock.hcl`` when it starts them).
* Entries are owner-only (0700 directories, 0600 files, executables 0700); a data directory holding a
  registered secret (``tfkit.redact``) is not recorded. Each slot keeps its ``KEEP`` most recently used
  entries (a restore marks its entry used), so switching branches or engines keeps hitting; a slot
  whose working directory no longer exists (a temporary copy) is removed when another is recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from tfkit.content_cache import content_key
from tfkit.fsutil import atomic_write
from tfkit.redact import mask

__all__ = ["KEEP", "InitCache"]

#: Entries kept per environment (most recently used first).
KEEP = 4
_MANIFEST = "manifest.json"
#: In each slot: the working directory it records; a slot whose directory is gone is removed.
_WORKDIR = ".workdir"
_PROVIDERS = "providers"
#: Terraform's record of installed modules: a remote module's ``Dir`` is an absolute path into the data
#: directory, so the entry keeps it relative to a placeholder and a restore points it at the new one.
_MODULES_MANIFEST = "modules/modules.json"
_DATA_DIR_MARK = "${TFKIT_INIT_DATA_DIR}"
#: Files read whole for the secret check and hashed when restored (provider packages are sized only).
_MAX_SCANNED = 8 * 1024 * 1024
#: A staging directory this old was left by a killed run (recording takes seconds at most).
_STALE_STAGING_SECONDS = 3600.0


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class InitCache:
    """The recorded init results of one environment (its working directory), by fingerprint."""

    def __init__(self, cache_dir: Path, workdir: Path) -> None:
        self.root = cache_dir / "terraform-init"
        self.workdir = Path(workdir).resolve()
        self.slot = self.root / content_key("init-slot", str(self.workdir))[:32]

    def restore(self, fingerprint: str, data_dir: Path) -> bool:
        """Fill the empty ``data_dir`` with the entry recorded for ``fingerprint``; False on a miss."""
        entry = self.slot / fingerprint
        if not entry.is_dir() or (data_dir.exists() and any(data_dir.iterdir())):
            return False
        try:
            manifest = json.loads((entry / _MANIFEST).read_bytes())
            files: dict[str, Any] = manifest["files"]
            links: dict[str, str] = manifest["links"]
            if manifest.get("fingerprint") != fingerprint:
                return False
            self._materialize(entry / "data", files, links, data_dir)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            shutil.rmtree(data_dir, ignore_errors=True)
            shutil.rmtree(entry, ignore_errors=True)  # damaged or torn: the real init records it anew
            return False
        with contextlib.suppress(OSError):
            os.utime(entry / _MANIFEST)  # recently used: pruned last
        return True

    def _materialize(
        self, source: Path, files: dict[str, Any], links: dict[str, str], data_dir: Path
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        for rel, record in files.items():
            size, digest, mode = int(record["size"]), record["sha256"], int(record["mode"])
            origin = source / rel
            if _is_provider(rel):
                if origin.stat().st_size != size:
                    raise ValueError(f"{rel}: size differs")
                continue
            content = origin.read_bytes()
            if len(content) != size or hashlib.sha256(content).hexdigest() != digest:
                raise ValueError(f"{rel}: content differs")
            target = data_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_placed(content, data_dir) if rel == _MODULES_MANIFEST else content)
            target.chmod(mode)
        for rel, destination in links.items():
            if not _is_provider(rel):
                target = data_dir / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(destination)
        if (source / _PROVIDERS).is_dir():
            (data_dir / _PROVIDERS).symlink_to(source / _PROVIDERS, target_is_directory=True)

    def record(self, fingerprint: str, data_dir: Path) -> bool:
        """Keep ``data_dir`` (after a real init) as the entry of ``fingerprint``; False if not kept."""
        if not data_dir.is_dir():
            return False
        try:
            _private_dir(self.root)
            _private_dir(self.slot)
            if not (self.slot / _WORKDIR).is_file():
                atomic_write(self.slot / _WORKDIR, str(self.workdir), mode=0o600, sync_dir=False)
            staging = Path(tempfile.mkdtemp(prefix=".record-", dir=self.slot))
        except OSError:
            return False
        try:
            kept = self._assemble(fingerprint, data_dir, staging)
            if kept:
                try:
                    staging.rename(self.slot / fingerprint)
                except OSError:
                    kept = (self.slot / fingerprint / _MANIFEST).is_file()  # another run recorded it first
        except OSError:
            kept = False
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._prune()
        return kept

    def _assemble(self, fingerprint: str, data_dir: Path, staging: Path) -> bool:
        files: dict[str, dict[str, Any]] = {}
        links: dict[str, str] = {}
        target_root = staging / "data"
        target_root.mkdir(mode=0o700)
        for root, dirs, names in os.walk(data_dir):
            here = Path(root)
            for name in sorted([*dirs, *names]):
                path = here / name
                rel = path.relative_to(data_dir).as_posix()
                target = target_root / rel
                if path.is_symlink():
                    links[rel] = str(path.readlink())
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.symlink_to(links[rel])
                    continue
                if path.is_dir():
                    target.mkdir(parents=True, exist_ok=True, mode=0o700)
                    continue
                info = path.stat()
                if info.st_size <= _MAX_SCANNED and not _is_provider(rel):
                    text = path.read_text(encoding="utf-8", errors="replace")
                    if mask(text) != text:
                        return False  # a registered secret: never written to the cache
                mode = 0o700 if info.st_mode & stat.S_IXUSR else 0o600
                target.parent.mkdir(parents=True, exist_ok=True)
                if rel == _MODULES_MANIFEST:
                    target.write_bytes(_portable(path.read_bytes(), data_dir))
                else:
                    shutil.copyfile(path, target)
                target.chmod(mode)
                files[rel] = {"size": target.stat().st_size, "sha256": _sha256(target), "mode": mode}
            dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
        manifest = {"fingerprint": fingerprint, "files": files, "links": links}
        atomic_write(staging / _MANIFEST, json.dumps(manifest, sort_keys=True), mode=0o600)
        return True

    def _prune(self) -> None:
        """Remove all but the ``KEEP`` most recently used entries of the slot (and dead staging dirs)."""
        entries: list[tuple[float, Path]] = []
        with contextlib.suppress(OSError):
            for entry in self.slot.iterdir():
                if entry.name.startswith("."):
                    continue
                try:
                    entries.append(((entry / _MANIFEST).stat().st_mtime, entry))
                except OSError:
                    entries.append((0.0, entry))
        for _, entry in sorted(entries, reverse=True)[KEEP:]:
            shutil.rmtree(entry, ignore_errors=True)
        with contextlib.suppress(OSError):
            for staging in self.slot.glob(".record-*"):
                if staging.stat().st_mtime < time.time() - _STALE_STAGING_SECONDS:
                    shutil.rmtree(staging, ignore_errors=True)  # left by a killed run
        with contextlib.suppress(OSError):
            for slot in self.root.iterdir():  # environments that are gone (temporary copies, deleted ones)
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    if not Path((slot / _WORKDIR).read_text(encoding="utf-8")).is_dir():
                        shutil.rmtree(slot, ignore_errors=True)


def _portable(content: bytes, data_dir: Path) -> bytes:
    """``modules.json`` with each module directory inside ``data_dir`` written relative to a placeholder."""
    document = json.loads(content)
    prefixes = {str(data_dir), str(data_dir.resolve())}
    for module in document.get("Modules") or ():
        where = module.get("Dir")
        for prefix in prefixes:
            if isinstance(where, str) and (where == prefix or where.startswith(prefix + "/")):
                module["Dir"] = _DATA_DIR_MARK + where[len(prefix) :]
                break
    return json.dumps(document, sort_keys=True).encode()


def _placed(content: bytes, data_dir: Path) -> bytes:
    """A recorded ``modules.json`` pointing at ``data_dir``, where the restore put the modules."""
    document = json.loads(content)
    for module in document.get("Modules") or ():
        where = module.get("Dir")
        if isinstance(where, str) and where.startswith(_DATA_DIR_MARK):
            module["Dir"] = str(data_dir) + where[len(_DATA_DIR_MARK) :]
    return json.dumps(document).encode()


def _is_provider(rel: str) -> bool:
    return rel == _PROVIDERS or rel.startswith(_PROVIDERS + "/")
