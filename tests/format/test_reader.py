"""docs/repository-format.md as a contract: repositories written by the `cairn` binary are read
back byte for byte by cairn_reader.py, a reader written from that document alone.

The binary is $CAIRN_BIN (default: target/debug/cairn). Tests of one module share one
repository and run in file order: the key slot and maintenance tests come last because they
change it.
"""

from __future__ import annotations

import filecmp
import os
import random
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cairn_reader import FormatError, Repository, WrongPassword

ROOT = Path(__file__).resolve().parents[2]
CAIRN = os.environ.get("CAIRN_BIN", str(ROOT / "target" / "debug" / "cairn"))
PASSWORD, NEW_PASSWORD = "correct horse battery staple", "tr0ub4dor&3"
MIB = 1024 * 1024


def cairn(
    data_dir: Path, *args: str, password: str = PASSWORD, new_password: str | None = None
) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    env["CAIRN_REPO_PASSWORD"] = password
    if new_password is not None:
        env["CAIRN_REPO_NEW_PASSWORD"] = new_password
    run = subprocess.run(
        [CAIRN, "--data-dir", str(data_dir), *args],
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, f"cairn {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}"
    return run.stdout


def make_corpus(root: Path, rnd: random.Random) -> None:
    """Nested text files (every third ends with the same 200 KiB attachment, so chunks are
    shared), a flat folder large enough to span several listing pages, an empty file, a file
    above the CLI's 8 MiB streaming threshold and an edited copy of it."""
    attachment = rnd.randbytes(200 * 1024)
    for i in range(300):
        folder = root / f"d{i % 4}" / f"s{i % 5}" / ("deep" if i % 7 == 0 else "")
        folder.mkdir(parents=True, exist_ok=True)
        body = "".join(
            f"line {n} of file {i}: {rnd.random()}\n" for n in range(rnd.randint(1, 300))
        )
        (folder / f"f{i:03}.txt").write_bytes(body.encode() + (attachment if i % 3 == 0 else b""))
    (root / "many").mkdir()
    for i in range(2500):  # ~10 pages expected (a page ends after 1 item in 256, §8.2)
        (root / "many" / f"n{i:04}.txt").write_text(f"tiny file {i}\n")
    (root / "empty").write_bytes(b"")
    big = bytearray(rnd.randbytes(12 * MIB))
    (root / "big.bin").write_bytes(big)
    big[5 * MIB : 5 * MIB + 16] = b"edited in place!"
    (root / "big-edited.bin").write_bytes(big)
    (root / "replaced.bin").write_bytes(rnd.randbytes(6 * MIB))


def change_corpus(root: Path, rnd: random.Random) -> None:
    """Edits, additions and one replaced 6 MiB file (garbage once the first point is forgotten)."""
    for i in range(5):  # one file in each folder d0/s0…d0/s4
        path = min((root / "d0" / f"s{i}").glob("f*.txt"))
        path.write_bytes(path.read_bytes() + b"appended in session 2\n")
    (root / "d1" / "new").mkdir()
    (root / "d1" / "new" / "added.txt").write_text("added in session 2\n")
    (root / "many" / "n0007.txt").write_text("changed\n")
    (root / "replaced.bin").write_bytes(rnd.randbytes(6 * MIB))


def assert_same_tree(restored: Path, expected: Path) -> None:
    """Every file of `expected` is in `restored` with the same bytes, and nothing else is."""
    want = sorted(p.relative_to(expected) for p in expected.rglob("*") if p.is_file())
    got = sorted(p.relative_to(restored) for p in restored.rglob("*") if p.is_file())
    assert got == want
    for rel in want:
        assert filecmp.cmp(restored / rel, expected / rel, shallow=False), f"{rel} differs"


def restore(repo: Repository, rp: dict, out: Path) -> Path:
    [obj] = rp["objects"]
    assert obj["kind"] == "files"
    shutil.rmtree(out, ignore_errors=True)
    repo.restore_object(obj, str(out))
    return out


@dataclass
class Repo:
    data_dir: Path
    path: Path
    corpus: Path  # as of the second restore point
    first: Path  # a copy of the corpus as of the first restore point
    scratch: Path
    password: str = PASSWORD
    ids: list[str] = field(default_factory=list)  # restore point ids, oldest first


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repo:
    assert os.access(CAIRN, os.X_OK), f"no cairn binary at {CAIRN} (set CAIRN_BIN)"
    tmp = tmp_path_factory.mktemp("format")
    rnd = random.Random(20261129)
    r = Repo(
        tmp / "home",
        tmp / "home" / "repositories" / "main",
        tmp / "corpus",
        tmp / "first",
        tmp / "out",
    )
    make_corpus(r.corpus, rnd)
    shutil.copytree(r.corpus, r.first)
    cairn(r.data_dir, "repo", "create", "main")
    assert (r.path / "config").is_file(), (
        "a local repository lives under <data-dir>/repositories/NAME"
    )
    cairn(r.data_dir, "repo", "put-dir", "main", str(r.corpus))
    change_corpus(r.corpus, rnd)
    cairn(r.data_dir, "repo", "put-dir", "main", str(r.corpus))
    r.ids = [rp["id"] for rp in Repository(str(r.path), PASSWORD).restore_points()]
    return r


def test_both_restore_points_read_back_byte_for_byte(repo: Repo):
    reader = Repository(str(repo.path), PASSWORD)
    assert reader.config["encryption"] == "aes-256-gcm"
    first, second = reader.restore_points()
    assert_same_tree(restore(reader, first, repo.scratch / "1"), repo.first)
    assert_same_tree(restore(reader, second, repo.scratch / "2"), repo.corpus)
    reader.verify()


def test_second_restore_point_is_incremental(repo: Repo):
    """§8.2: unchanged pages (and folders) are the same blobs in both restore points."""
    reader = Repository(str(repo.path), PASSWORD)
    first, second = (reader.folders(rp["objects"][0]) for rp in reader.restore_points())

    def pages(folders: list[dict]) -> dict[str, list[str]]:
        return {f["id"]: [p["blob"] for p in f["pages"]] for f in folders}

    before, after = pages(first), pages(second)
    assert set(after) == set(before) | {"d1/new"}
    changed = {f for f in before if before[f] != after[f]}
    assert changed == {"/", "many"} | {f"d0/s{i}" for i in range(5)}, changed
    assert len(set(after["many"]) - set(before["many"])) == 1, "one changed item changes one page"
    assert len(before["many"]) > 1, "the paging rule (§8.2) was not exercised"
    # Shared chunks are stored once: the attachment, the big file and its edited copy.
    chunks = [c for f in second for item in reader.items(f) for c in item["chunks"]]
    assert all(reader.index[c].type == "data" for c in chunks)
    assert len(chunks) - len(set(chunks)) > 250, "the attachment and the big file's copy dedup"


def test_index_can_be_rebuilt_from_pack_headers(repo: Repo):
    """§12: without index files, the map comes from the pack headers."""
    reader = Repository(str(repo.path), PASSWORD)
    reader.index = reader.rebuild_index()
    assert_same_tree(
        restore(reader, reader.restore_points()[-1], repo.scratch / "rebuilt"), repo.corpus
    )


def test_wrong_password_is_refused(repo: Repo):
    with pytest.raises(WrongPassword, match="wrong password"):
        Repository(str(repo.path), "not the password")
    with pytest.raises(WrongPassword):
        Repository(str(repo.path), None)


def test_tampering_is_detected(repo: Repo):
    """§15: a changed byte fails authentication, and the pack id no longer matches."""
    copy = repo.scratch / "tampered"
    shutil.copytree(repo.path, copy)
    reader = Repository(str(copy), PASSWORD)
    item = next(
        i
        for f in reader.folders(reader.restore_points()[-1]["objects"][0])
        for i in reader.items(f)
        if i["id"] == "big.bin"
    )
    loc = reader.index[item["chunks"][3]]
    pack = copy / reader.pack_name(loc.pack)
    data = bytearray(pack.read_bytes())
    data[loc.offset + loc.length // 2] ^= 0x01
    pack.write_bytes(data)
    with pytest.raises(FormatError, match="authentication failed"):
        b"".join(reader.content(item))
    with pytest.raises(FormatError, match="pack id"):
        reader.verify()


def test_unencrypted_repository(repo: Repo):
    cairn(repo.data_dir, "repo", "create", "--unencrypted", "plain")
    path = repo.data_dir / "repositories" / "plain"
    small = repo.scratch / "small-corpus"
    shutil.copytree(repo.first / "d2", small / "d2")
    (small / "empty").write_bytes(b"")
    cairn(repo.data_dir, "repo", "put-dir", "plain", str(small))
    reader = Repository(str(path), None)
    assert reader.config["encryption"] == "none" and not reader.list("keys/")
    [rp] = reader.restore_points()
    assert_same_tree(restore(reader, rp, repo.scratch / "plain"), small)
    reader.verify()


def test_passwd_replaces_the_key_slot(repo: Repo):
    """§5: the new password opens the repository, the old one no longer does; no data rewritten."""
    packs_before = Repository(str(repo.path), repo.password).list("data/")
    cairn(
        repo.data_dir, "repo", "passwd", "main", password=repo.password, new_password=NEW_PASSWORD
    )
    repo.password = NEW_PASSWORD
    with pytest.raises(WrongPassword):
        Repository(str(repo.path), PASSWORD)
    reader = Repository(str(repo.path), NEW_PASSWORD)
    assert reader.list("data/") == packs_before and len(reader.list("keys/")) == 1
    assert_same_tree(
        restore(reader, reader.restore_points()[0], repo.scratch / "passwd"), repo.first
    )


def test_forget_and_prune_keep_the_remaining_restore_point(repo: Repo):
    def stored() -> int:
        return sum(p.stat().st_size for p in (repo.path / "data").rglob("*") if p.is_file())

    before = stored()
    cairn(repo.data_dir, "repo", "forget", "main", repo.ids[0], password=repo.password)
    cairn(repo.data_dir, "repo", "prune", "main", password=repo.password)
    assert stored() < before - 5 * MIB, "prune freed the replaced 6 MiB file"
    reader = Repository(str(repo.path), repo.password)
    [rp] = reader.restore_points()
    assert rp["id"] == repo.ids[1]
    assert_same_tree(restore(reader, rp, repo.scratch / "pruned"), repo.corpus)
    reader.verify()
