"""Pattern files shared by ACLs (`-f FILE`) and map converters (`map(FILE)`), loaded once
per file and changeable at run time through the runtime API (`add map`, `del acl` …).

Each file has an id (one numbering for ACL files and maps, in load order, as HAProxy shows
them), its entries in file order — (key, value) pairs; ACL patterns have no value — and a
version that every change bumps: the compiled matchers and lookups that read a file
rebuild themselves when they see a new version, so a request never pays for more than
comparing two integers.
"""

from __future__ import annotations

from pathlib import Path

from weir.sample.core import SampleError


class PatternFile:
    __slots__ = ("entries", "id", "kind", "path", "version")

    def __init__(
        self, ident: int, path: str, kind: str, entries: list[tuple[bytes, bytes]]
    ) -> None:
        self.id = ident
        self.path = path
        self.kind = kind  # "map" or "acl"
        self.entries = entries
        self.version = 0

    def _changed(self) -> None:
        self.version += 1

    def add(self, key: bytes, value: bytes = b"") -> None:
        self.entries = [*self.entries, (key, value)]
        self._changed()

    def _index(self, key_or_ref: bytes) -> list[int]:
        if key_or_ref.startswith(b"#"):
            try:
                n = int(key_or_ref[1:], 16)
            except ValueError:
                return []
            return [i for i, e in enumerate(self.entries) if id(e) == n]
        return [i for i, (k, _) in enumerate(self.entries) if k == key_or_ref]

    def set(self, key_or_ref: bytes, value: bytes) -> bool:
        found = self._index(key_or_ref)
        if not found:
            return False
        entries = list(self.entries)
        for i in found:
            entries[i] = (entries[i][0], value)
        self.entries = entries
        self._changed()
        return True

    def delete(self, key_or_ref: bytes) -> bool:
        found = set(self._index(key_or_ref))
        if not found:
            return False
        self.entries = [e for i, e in enumerate(self.entries) if i not in found]
        self._changed()
        return True

    def clear(self) -> None:
        self.entries = []
        self._changed()


FILES: dict[tuple[str, str], PatternFile] = {}


def pattern_file(path: str, kind: str) -> PatternFile:
    """The file's patterns (`kind` "map": key and value per line; "acl": one pattern per
    line), read at the first use. Comments (#) and blank lines are skipped."""
    found = FILES.get((kind, path))
    if found is not None:
        return found
    try:
        text = Path(path).read_bytes()
    except OSError as e:
        raise SampleError(f"cannot open {kind} file '{path}': {e.strerror}") from None
    entries: list[tuple[bytes, bytes]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        if kind == "map":
            parts = line.split(None, 1)
            entries.append((parts[0], parts[1].strip() if len(parts) > 1 else b""))
        else:
            entries.append((line, b""))
    ident = max((f.id for f in FILES.values()), default=-1) + 1  # past any `-u` id
    found = FILES[(kind, path)] = PatternFile(ident, path, kind, entries)
    return found


def find(kind: str, name: str) -> PatternFile | None:
    """A file by path or `#id`, as the runtime API names them."""
    if name.startswith("#"):
        try:
            ident = int(name[1:])
        except ValueError:
            return None
        return next((f for f in FILES.values() if f.kind == kind and f.id == ident), None)
    return FILES.get((kind, name))


def set_unique_id(f: PatternFile, ident: int) -> None:
    """`-u ID`: the file's id for the runtime API (`show acl #ID`), unless another file
    of its kind has it."""
    other = next((o for o in FILES.values() if o.kind == f.kind and o.id == ident), None)
    if other is not None and other is not f:
        raise SampleError(f"unique id {ident} is already used by '{other.path}'")
    f.id = ident
