"""The snapshot store: atomic as a whole, digests checked, encrypted state, retention."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from testsupport import make_manifest

from tfkit.errors import SnapshotError
from tfkit.snapshots import LocalSnapshotStore, SnapshotWarning

manifest = make_manifest


FILES = {"bundle/envs/staging/main.tf": b'resource "terraform_data" "x" {}\n', "plan.json": b"{}"}


def test_save_list_get_verify(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path)
    first = store.save(manifest(), FILES)
    second = store.save(manifest(), FILES)
    assert [s.id for s in store.list("staging")] == [first.id, second.id]
    assert store.latest("staging").id == second.id and store.latest("dev") is None
    got = store.get(first.id)
    got.verify()
    assert got.bundle() == {"envs/staging/main.tf": FILES["bundle/envs/staging/main.tf"]}
    assert got.manifest.files["plan.json"] == __import__("hashlib").sha256(b"{}").hexdigest()


@pytest.mark.parametrize("tamper", ["edit", "extra", "manifest"])
def test_tampering_is_detected(tmp_path: Path, tamper: str) -> None:
    store = LocalSnapshotStore(tmp_path)
    snap = store.save(manifest(), FILES)
    if tamper == "edit":
        (snap.path / "plan.json").write_bytes(b'{"x": 1}')
        expected = "plan.json does not match its digest"
    elif tamper == "extra":
        (snap.path / "bundle" / "evil.tf").write_bytes(b"")
        expected = "unexpected file bundle/evil.tf"
    else:
        (snap.path / "manifest.json").write_text("{not json")
        expected = "corrupted snapshot manifest"
    with pytest.raises(SnapshotError, match=expected) as info:
        store.get(snap.id).verify()
    assert info.value.exit_code == 2 and "\n" not in str(info.value)


def test_unknown_id(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no snapshot with id 'nope'"):
        LocalSnapshotStore(tmp_path).get("nope")


def test_encrypted_state(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    store = LocalSnapshotStore(tmp_path)
    snap = store.save(
        manifest(state_encrypted=True), {**FILES, "state.enc": Fernet(key).encrypt(b'{"serial": 3}')}
    )
    assert b"serial" not in (snap.path / "state.enc").read_bytes()
    assert snap.state(key) == b'{"serial": 3}'
    with pytest.raises(SnapshotError, match="set the encryption key"):
        snap.state(None)
    with pytest.raises(SnapshotError, match="does not decrypt"):
        snap.state(Fernet.generate_key())
    plain = store.save(manifest(), FILES)
    with pytest.raises(SnapshotError, match="holds no state"):
        plain.state(key)


def test_retention_keeps_the_newest(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path)
    ids = [store.save(manifest(), FILES).id for _ in range(5)]
    assert store.prune("staging", 2) == ids[:3]
    assert [s.id for s in store.list("staging")] == ids[3:]


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import tfkit.snapshots as s
    store = s.LocalSnapshotStore(Path(sys.argv[1]))
    big = {f"bundle/f{i}.tf": bytes([i]) * 200_000 for i in range(40)}
    print("writing", flush=True)
    while True:
        m = s.SnapshotManifest(id=s.new_snapshot_id(), environment="staging", kind="apply", created="t",
                               tfkit_version="0", terraform_version="1", engine="e", lineage="l", serial=1)
        store.save(m, big)
    """
)


def test_a_killed_write_never_leaves_a_half_written_snapshot(tmp_path: Path) -> None:
    for delay in (0.05, 0.2, 0.4, 0.7):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    store = LocalSnapshotStore(tmp_path)
    for snap in store.list("staging"):
        snap.verify()
        assert len(snap.bundle()) == 40
    leftovers = list((tmp_path / "staging").glob(".tmp-*"))
    assert leftovers, "the kills landed mid-write at least once"
    store.prune("staging", 100)
    assert not list((tmp_path / "staging").glob(".tmp-*"))


def test_a_manifest_field_from_a_newer_tfkit_is_ignored_with_a_warning(tmp_path: Path) -> None:
    import json

    store = LocalSnapshotStore(tmp_path)
    saved = store.save(manifest(), FILES)
    path = saved.path / "manifest.json"
    document = json.loads(path.read_bytes())
    path.write_text(json.dumps({**document, "signed_by": "a newer tfkit", "retention_class": 3}))
    with pytest.warns(SnapshotWarning, match="ignoring field\\(s\\) retention_class, signed_by"):
        again = store.get(saved.id)
    assert again.manifest == saved.manifest
    again.verify()  # the manifest is not a digested file: the snapshot is intact
    path.write_text("[]")
    with pytest.raises(SnapshotError, match="corrupted snapshot manifest"):
        store.get(saved.id)


def test_a_ledger_entry_from_a_newer_tfkit_is_read_with_a_warning(tmp_path: Path) -> None:
    import json

    from tfkit.ledger import LocalLedger, Override, new_entry, new_health

    ledger = LocalLedger(tmp_path)
    entry = ledger.record(
        new_entry(
            "dev",
            kind="apply",
            snapshot="s1",
            modules={"modules/a": "d1"},
            git_commit=None,
            overrides=[Override("allow-unstable", "INC-1")],
        )
    )
    path = tmp_path / "ledger" / "dev" / "s1.json"
    document = json.loads(path.read_text())
    document["approved_by"] = "someone"
    document["overrides"][0]["ticket"] = "INC-1"
    path.write_text(json.dumps(document))
    health = tmp_path / "health" / "dev.json"
    ledger.set_health(new_health("dev", stable=False, reason="apply failed"))
    health.write_text(json.dumps({**json.loads(health.read_text()), "runner": "ci-7"}))
    with pytest.warns(SnapshotWarning) as caught:
        assert ledger.last("dev") == entry
    shown = " ".join(str(w.message) for w in caught)
    assert "ignoring field(s) approved_by" in shown and "ignoring field(s) ticket" in shown
    with pytest.warns(SnapshotWarning, match="runner"):
        assert not ledger.health("dev").stable
    path.write_text('{"id": "s1"}')
    with pytest.raises(SnapshotError, match="corrupted ledger entry"):
        ledger.entries("dev")


def test_one_digest_keeps_path_and_content_apart(tmp_path: Path) -> None:
    from tfkit.bundle import directory_digest, files_digest

    assert files_digest({"ab": b"c"}) != files_digest({"a": b"bc"})
    assert files_digest({"a": b"x", "b": b"y"}) == files_digest({"b": b"y", "a": b"x"})
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "main.tf").write_bytes(b"x")
    (tmp_path / "m" / "terraform.tfstate").write_bytes(b"state is not configuration")
    assert directory_digest(tmp_path / "m") == files_digest({"main.tf": b"x"})
