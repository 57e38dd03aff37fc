"""An independent reader of Cairn repositories, written from docs/repository-format.md only.

It exists to test the claim of that document: "A reader that has only this document and
a password must be able to list and restore everything in a repository." Section numbers
(§n) below refer to it. It reads a local repository directory and verifies every hash and
id the format defines; it never writes to the repository.

    repo = Repository("/path/to/repo", password="…")      # password=None if unencrypted
    for rp in repo.restore_points():
        for obj in rp["objects"]:
            repo.restore_object(obj, "/tmp/out")

Usage as a script: python cairn_reader.py REPO_DIR OUT_DIR  (password from CAIRN_REPO_PASSWORD).
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import sys
from dataclasses import dataclass

import blake3
import zstandard
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = 1
NONCE, TAG = 12, 16
HEADER_ENTRY = 42  # §6: type u8, flags u8, length u32le, raw_length u32le, id 32 bytes
BLOB_TYPES = {0: "data", 1: "tree"}
PAGE_MAX_ITEMS = 2048


class FormatError(Exception):
    """The repository does not conform to the format (or is damaged)."""


class WrongPassword(FormatError):
    """No key slot opens with the given password (§5)."""


@dataclass(frozen=True)
class Location:
    """Where a blob is stored (§7): pack id, offset and length of the stored blob."""

    pack: str
    type: str
    offset: int
    length: int
    raw_length: int
    compressed: bool


def zstd_decompress(data: bytes, limit: int | None = None) -> bytes:
    """Decompresses one standard zstd frame (§3.2, §3.3), content size declared or not."""
    out = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    if limit is not None and len(out) > limit:
        raise FormatError("zstd frame longer than raw_length")
    return out


def instant(timestamp: str) -> tuple[str, int]:
    """§3: an RFC 3339 UTC timestamp with 0–9 fractional digits, as a sortable key."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", timestamp)
    if not m:
        raise FormatError(f"not an RFC 3339 UTC timestamp: {timestamp!r}")
    return m[1], int((m[2] or "").ljust(9, "0"))


class Repository:
    """A Cairn repository, version 1, on a local directory (§2), opened for reading (§12)."""

    def __init__(self, root: str, password: str | None = None):
        self.root = root
        self.config = self._load_config()
        if self.config["encryption"] == "aes-256-gcm":
            if password is None:
                raise WrongPassword("the repository is encrypted: a password is needed")
            master = self._unlock(password)
            self._key = AESGCM(base64.b64decode(master["encryption"]))
        elif self.config["encryption"] == "none":
            master = self.config["unencrypted_keys"]
            self._key = None
        else:
            raise FormatError(f"unknown encryption {self.config['encryption']!r}")
        self.id_key = base64.b64decode(master["id_key"])
        if len(self.id_key) != 32:
            raise FormatError("id key is not 32 bytes")
        self.index = self._load_index()

    # ----------------------------------------------------------------- objects (§2)

    def _path(self, name: str) -> str:
        return os.path.join(self.root, *name.split("/"))

    def _get(self, name: str) -> bytes:
        with open(self._path(name), "rb") as f:
            return f.read()

    def _get_range(self, name: str, offset: int, length: int) -> bytes:
        with open(self._path(name), "rb") as f:
            f.seek(offset)
            data = f.read(length)
        if len(data) != length:
            raise FormatError(f"{name}: truncated (wanted {length} bytes at {offset})")
        return data

    def list(self, prefix: str) -> list[str]:
        """Object names under a prefix, without `.tmp-` files (§2); a missing prefix is empty."""
        base = self._path(prefix)
        names = []
        for dirpath, _, files in os.walk(base):
            for f in files:
                if not f.startswith(".tmp-"):
                    rel = os.path.relpath(os.path.join(dirpath, f), self.root)
                    names.append(rel.replace(os.sep, "/"))
        return sorted(names)

    # ----------------------------------------------------------- config, keys (§4, §5)

    def _load_config(self) -> dict:
        """§4: `version` is checked before any other field."""
        config = json.loads(self._get("config"))
        if config.get("version") != FORMAT_VERSION:
            raise FormatError(
                f"repository format version {config.get('version')}, "
                f"this reader knows version {FORMAT_VERSION}"
            )
        if config.get("format") != "cairn-repository":
            raise FormatError(f"not a Cairn repository: format {config.get('format')!r}")
        return config

    def _unlock(self, password: str) -> dict:
        """§5: try every key slot; a GCM authentication failure means "not this password"."""
        slots = self.list("keys/")
        if not slots:
            raise FormatError("encrypted repository without key slots")
        for name in slots:
            slot = json.loads(self._get(name))
            if slot["version"] != 1 or slot["kdf"] != "argon2id":
                raise FormatError(f"{name}: unknown key slot version or kdf")
            w = hash_secret_raw(
                secret=password.encode("utf-8"),
                salt=base64.b64decode(slot["salt"]),
                time_cost=slot["iterations"],
                memory_cost=slot["memory_kib"],
                parallelism=slot["parallelism"],
                hash_len=32,
                type=Type.ID,
                version=0x13,
            )
            wrapped = base64.b64decode(slot["wrapped"])
            try:
                plain = AESGCM(w).decrypt(wrapped[:NONCE], wrapped[NONCE:], None)
            except InvalidTag:
                continue
            master = json.loads(plain)
            self.slot = name.rsplit("/", 1)[-1]
            if len(base64.b64decode(master["encryption"])) != 32:
                raise FormatError(f"{name}: master encryption key is not 32 bytes")
            return master
        raise WrongPassword(f"wrong password: none of {len(slots)} key slot(s) opens")

    # ------------------------------------------------------------ encodings (§3)

    def unseal(self, sealed: bytes, what: str) -> bytes:
        """§3.1: nonce ‖ ciphertext ‖ tag, AES-256-GCM, empty aad; identity if unencrypted."""
        if self._key is None:
            return sealed
        if len(sealed) < NONCE + TAG:
            raise FormatError(f"{what}: too short to be sealed")
        try:
            return self._key.decrypt(sealed[:NONCE], sealed[NONCE:], None)
        except InvalidTag:
            raise FormatError(f"{what}: authentication failed") from None

    def read_file(self, name: str) -> dict:
        """§3.2: file = seal(zstd(UTF-8 JSON))."""
        return json.loads(zstd_decompress(self.unseal(self._get(name), name)).decode("utf-8"))

    def blob_id(self, plaintext: bytes) -> str:
        """§3.4: BLAKE3 keyed with the id key."""
        return blake3.blake3(plaintext, key=self.id_key).hexdigest()

    def open_blob(self, blob_id: str, loc: Location, stored: bytes) -> bytes:
        """§3.3: unseal, decompress if `compressed`, check raw_length and the id."""
        data = self.unseal(stored, f"blob {blob_id} in pack {loc.pack}")
        if loc.compressed:
            data = zstd_decompress(data, loc.raw_length)
        if len(data) != loc.raw_length:
            raise FormatError(f"blob {blob_id}: {len(data)} bytes, raw_length {loc.raw_length}")
        if self.blob_id(data) != blob_id:
            raise FormatError(f"blob {blob_id}: content does not hash to its id")
        return data

    # ------------------------------------------------------------ packs, index (§6, §7)

    @staticmethod
    def pack_name(pack_id: str) -> str:
        return f"data/{pack_id[:2]}/{pack_id}"

    def _load_index(self) -> dict[str, Location]:
        """§7: the index is the union of all index files; any location of a blob is valid."""
        index: dict[str, Location] = {}
        self.pack_sizes: dict[str, int] = {}
        for name in self.list("index/"):
            for pack in self.read_file(name)["packs"]:
                self.pack_sizes[pack["id"]] = pack["size"]
                for b in pack["blobs"]:
                    index[b["id"]] = Location(
                        pack["id"],
                        b["type"],
                        b["offset"],
                        b["length"],
                        b["raw_length"],
                        b["compressed"],
                    )
        return index

    def pack_header(self, pack_id: str) -> dict[str, Location]:
        """§6, §12: reads one pack whole, checks its id, opens its header and every blob."""
        name = self.pack_name(pack_id)
        data = self._get(name)
        if blake3.blake3(data).hexdigest() != pack_id:
            raise FormatError(f"{name}: bytes do not hash to the pack id")
        if len(data) < 4:
            raise FormatError(f"{name}: too short")
        (header_length,) = struct.unpack("<I", data[-4:])
        end = len(data) - 4 - header_length
        if end < 0:
            raise FormatError(f"{name}: header length {header_length} exceeds the pack")
        header = self.unseal(data[end:-4], f"{name} header")
        if len(header) % HEADER_ENTRY:
            raise FormatError(f"{name}: header is not a whole number of entries")
        blobs, offset = {}, 0
        for i in range(0, len(header), HEADER_ENTRY):
            kind, flags, length, raw_length = struct.unpack_from("<BBII", header, i)
            blob_id = header[i + 10 : i + HEADER_ENTRY].hex()
            if kind not in BLOB_TYPES or flags & ~0x01:
                raise FormatError(
                    f"{name}: entry {i // HEADER_ENTRY} has type {kind}, flags {flags}"
                )
            loc = Location(pack_id, BLOB_TYPES[kind], offset, length, raw_length, bool(flags & 1))
            self.open_blob(blob_id, loc, data[offset : offset + length])
            blobs[blob_id] = loc
            offset += length
        if offset != end:
            raise FormatError(f"{name}: blobs end at {offset}, the sealed header starts at {end}")
        return blobs

    def rebuild_index(self) -> dict[str, Location]:
        """§7, §12: the index rebuilt from every pack header (as if the index files were lost)."""
        index: dict[str, Location] = {}
        for name in self.list("data/"):
            index.update(self.pack_header(name.rsplit("/", 1)[-1]))
        return index

    def verify(self) -> None:
        """Reads every pack (§6) and checks that the index files (§7) describe them exactly."""
        packs = [name.rsplit("/", 1)[-1] for name in self.list("data/")]
        headers = {pack: self.pack_header(pack) for pack in packs}
        for pack, size in self.pack_sizes.items():
            if pack not in headers:
                raise FormatError(f"index names pack {pack}, which is missing")
            if os.path.getsize(self._path(self.pack_name(pack))) != size:
                raise FormatError(f"pack {pack}: size differs from the index")
        for blob_id, loc in self.index.items():
            if headers[loc.pack].get(blob_id) != loc:
                raise FormatError(f"blob {blob_id}: index entry differs from pack {loc.pack}")

    def blob(self, blob_id: str, kind: str) -> bytes:
        """§12.5: a range read of the stored blob in its pack, opened and verified."""
        loc = self.index.get(blob_id)
        if loc is None:
            raise FormatError(f"blob {blob_id} is in no index file")
        if loc.type != kind:
            raise FormatError(f"blob {blob_id} is a {loc.type} blob, expected {kind}")
        stored = self._get_range(self.pack_name(loc.pack), loc.offset, loc.length)
        return self.open_blob(blob_id, loc, stored)

    def tree(self, blob_id: str) -> dict:
        return json.loads(self.blob(blob_id, "tree").decode("utf-8"))

    # ------------------------------------------------------------ restore points (§8, §9)

    def restore_points(self) -> list[dict]:
        """§9: every restore point manifest, oldest first by `created`."""
        points = []
        for name in self.list("restorepoints/"):
            rp = self.read_file(name)
            if rp["version"] != 1 or rp["id"] != name.rsplit("/", 1)[-1]:
                raise FormatError(f"{name}: version {rp['version']} / id {rp['id']} mismatch")
            points.append(rp)
        return sorted(points, key=lambda rp: instant(rp["created"]))

    def checkpoints(self) -> list[dict]:
        """§9: manifests of unfinished sessions."""
        return [self.read_file(name) for name in self.list("sessions/")]

    def folders(self, obj: dict) -> list[dict]:
        """§8.1: the object tree of one protected object of a restore point."""
        return self.tree(obj["tree"])["folders"]

    def page_ends_after(self, item_id: str) -> bool:
        """§8.2: a page ends after an item whose keyed hash of its id starts with 0x00."""
        return blake3.blake3(item_id.encode("utf-8"), key=self.id_key).digest()[0] == 0

    def items(self, folder: dict):
        """§8.2: the items of a folder, page by page, checking the paging rules."""
        previous, count, pages = None, 0, folder["pages"]
        for p, page in enumerate(pages):
            items = self.tree(page["blob"])["items"]
            where = f"folder {folder['id']!r} page {p}"
            if not items or items[0]["id"] != page["first"] or len(items) != page["count"]:
                raise FormatError(f"{where}: `first`/`count` do not describe the page")
            for i, item in enumerate(items):
                key = item["id"].encode("utf-8")
                if previous is not None and not previous < key:
                    raise FormatError(f"{where}: items not sorted by id (byte order)")
                previous = key
                last = i == len(items) - 1
                if not last and self.page_ends_after(item["id"]):
                    raise FormatError(f"{where}: page should have ended after {item['id']!r}")
                yield item
            is_final = p == len(pages) - 1
            if not is_final and not (
                self.page_ends_after(items[-1]["id"]) or len(items) == PAGE_MAX_ITEMS
            ):
                raise FormatError(f"{where}: page ends without reason")
            count += len(items)
        if count != folder["items"]:
            raise FormatError(
                f"folder {folder['id']!r}: {count} items, tree says {folder['items']}"
            )

    def item_version(self, item: dict) -> str:
        """§3.4: BLAKE3-keyed(id_key, raw chunk ids concatenated)."""
        return self.blob_id(b"".join(bytes.fromhex(c) for c in item["chunks"]))

    def content(self, item: dict):
        """§8.2: an item's content, chunk by chunk; checks `size` and `version`."""
        if self.item_version(item) != item["version"]:
            raise FormatError(f"item {item['id']!r}: version does not match its chunks")
        size = 0
        for chunk in item["chunks"]:
            data = self.blob(chunk, "data")
            size += len(data)
            yield data
        if size != item["size"]:
            raise FormatError(f"item {item['id']!r}: {size} bytes, size says {item['size']}")

    def restore_object(self, obj: dict, out_dir: str) -> dict[str, int]:
        """Writes every item of one protected object under out_dir, one file per item.

        The file name is the item id (for `kind: files`, written by `cairn repo put-dir`, the
        item id is the file's `/`-separated path relative to the directory, §8.2). Checks the
        folder and object totals (`items`, `bytes`). Returns {item id: size}.
        """
        written: dict[str, int] = {}
        for folder in self.folders(obj):
            folder_bytes = 0
            for item in self.items(folder):
                parts = item["id"].split("/")
                if any(p in ("", ".", "..") for p in parts):
                    raise FormatError(f"item id {item['id']!r} is not a safe relative path")
                path = os.path.join(out_dir, *parts)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.writelines(self.content(item))
                written[item["id"]] = item["size"]
                folder_bytes += item["size"]
            if folder_bytes != folder["bytes"]:
                raise FormatError(
                    f"folder {folder['id']!r}: {folder_bytes} bytes, tree says {folder['bytes']}"
                )
        if len(written) != obj["items"] or sum(written.values()) != obj["bytes"]:
            raise FormatError(f"object {obj['id']!r}: totals differ from the restore point")
        return written


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    repo = Repository(argv[1], os.environ.get("CAIRN_REPO_PASSWORD"))
    for rp in repo.restore_points():
        for obj in rp["objects"]:
            out = os.path.join(argv[2], rp["id"], obj["id"])
            n = repo.restore_object(obj, out)
            print(f"{rp['id']} {rp['created']} {obj['id']}: {len(n)} items -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
