"""Verification and signed checkpoints of the audit chain.

What is checked
---------------
Each entry's ``hash`` is SHA-256 over its ``prev_hash`` and its canonical form (``audit.entry_hash``), and the
canonical form includes the entry's ``seq``. :func:`verify` checks, separately:

1. *content*: every row recomputed against its **own** stored ``prev_hash`` — a changed field shows up at that
   row only, not as "everything after is broken";
2. *order*: ``seq`` runs 1, 2, 3 … without gaps, and each ``prev_hash`` is the stored hash of the row before;
3. *the head*: ``AuditHead`` (updated in the same transaction as every append) names the last row;
4. *checkpoints*: every ``checkpoint-<seq>.json`` under ``AUDIT_CHECKPOINT_DIR`` carries a valid Ed25519
   signature and its hash is the chain's hash at that seq. Checkpoints live outside the database, so an attacker
   who rewrites the tail and the head together, or truncates the tail, is still caught.

The first pass streams every row once (``iterator(chunk_size=2000)``, flat memory) and keeps only the rows that do
not fit ("suspects", at most ``MAX_SUSPECTS``) and their neighbours. A healthy chain therefore costs one pass.
When suspects exist, a second light pass (seq, hash, prev_hash only) finds which rows their links point to, and the
suspects are explained:

* a row whose content matches its hash only under another ``seq`` was **reordered** (moved from that seq);
* a row whose content matches no seq was **edited**; a row that is self-consistent but whose hash is not what its
  successor committed to was rewritten with a recomputed hash (also **edited**);
* positions nobody occupies were **deleted** (a vanished tail is found through the head and the checkpoints);
* rows beyond the head, rows whose link points elsewhere in the chain, and the forged one of two rows claiming the
  same position were **inserted**.

Timestamps are hashed, so an authentic row whose ``at`` goes backwards reflects clock skew between servers at
write time; it is a note, not a failure (moved rows are found by their hashes, which is stronger).

Race-free without locking: the head is read before the stream (tail checks) and again after it (rows beyond the
head), so entries appended while verifying are neither "deleted" nor "inserted".

Checkpoints
-----------
:func:`write_checkpoint` signs ``{"seq", "hash", "at", "key_id"}`` of the head (canonical JSON, see
:func:`checkpoint_message`) with ``LINGJING_AUDIT_SIGNING_KEY`` and writes ``checkpoint-<seq:012d>.json`` plus
the public key (``audit-signing.pub``, PEM) so that an outside party can verify without the private key. Before
signing it re-verifies the segment since the previous valid checkpoint, so a checkpoint never blesses tampering.
``audit.record`` triggers it every ``LINGJING_AUDIT_CHECKPOINT_EVERY`` entries, after commit.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.utils import timezone

from lingjing.security.audit import GENESIS, detail_mac, entry_hash
from lingjing.security.crypto import CryptoError, associated_data, open_sealed

CHUNK = 2000
MAX_SUSPECTS = 10_000
MAX_NOTES = 100
_MAX_POOL_TRIES = 200_000  # entry hashes tried to place rows whose links are broken on both sides
PUBLIC_KEY_FILE = "audit-signing.pub"
_CHECKPOINT_GLOB = "checkpoint-*.json"
_CHAIN_FIELDS = (
    "id", "seq", "at", "event", "actor", "subject", "object_type", "object_id", "details", "detail_mac",
    "prev_hash", "hash",
)


class ProblemKind(enum.StrEnum):
    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    HEAD_MISMATCH = "head mismatch"
    CHECKPOINT_MISMATCH = "checkpoint mismatch"
    BAD_SIGNATURE = "bad signature"


KIND_LABELS = {
    ProblemKind.EDITED: "被修改",
    ProblemKind.DELETED: "被删除",
    ProblemKind.INSERTED: "被插入",
    ProblemKind.REORDERED: "顺序被调换",
    ProblemKind.HEAD_MISMATCH: "链头不符",
    ProblemKind.CHECKPOINT_MISMATCH: "检查点不符",
    ProblemKind.BAD_SIGNATURE: "签名无效",
}


@dataclass(frozen=True)
class Problem:
    """One finding. ``seq`` (and ``last_seq`` for a range) are the seq values as currently stored."""

    kind: ProblemKind
    seq: int | None
    entry_id: str | None
    message: str
    last_seq: int | None = None

    def line(self) -> str:
        where = "" if self.seq is None else f" seq {self.seq}"
        if self.last_seq is not None and self.last_seq != self.seq:
            where += f"–{self.last_seq}"
        ident = f" id {self.entry_id}" if self.entry_id else ""
        return f"{self.kind} {KIND_LABELS[self.kind]}:{where}{ident} — {self.message}"


@dataclass
class VerifyReport:
    entries: int = 0
    checkpoints: int = 0
    head_seq: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unanalysed: int = 0  # suspicious rows beyond MAX_SUSPECTS

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unanalysed

    def kinds_at(self, seq: int) -> set[ProblemKind]:
        """Kinds of the problems that concern ``seq`` (directly or inside a range)."""
        return {
            p.kind for p in self.problems
            if p.seq is not None and p.seq <= seq <= (p.last_seq if p.last_seq is not None else p.seq)
        }

    def summary(self) -> str:
        if self.ok:
            return (f"审计链完整 / audit chain intact: {self.entries} entries, {self.checkpoints} checkpoints")
        extra = f" (+{self.unanalysed} suspicious entries not analysed)" if self.unanalysed else ""
        return (f"审计链已被篡改 / audit chain broken: {len(self.problems)} problems{extra} "
                f"in {self.entries} entries, {self.checkpoints} valid checkpoints")


class AuditChainError(Exception):
    """The chain is broken where a checkpoint was about to be signed."""


# --- signing key ------------------------------------------------------------------------------------------


def _private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(settings.LINGJING_AUDIT_SIGNING_KEY)


def public_key() -> Ed25519PublicKey:
    return _private_key().public_key()


def public_key_pem(key: Ed25519PublicKey | None = None) -> bytes:
    key = key or public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey | None = None) -> str:
    raw = (key or public_key()).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint_message(body: dict[str, Any]) -> bytes:
    """The exact bytes that are signed: the four fields as compact JSON with sorted keys."""
    signed = {name: body[name] for name in ("seq", "hash", "at", "key_id")}
    return json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# --- checkpoints ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    key_id: str
    path: Path


def _checkpoint_dir() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR)


def _read_head() -> tuple[int, str] | None:
    from lingjing.security.audit_models import AuditHead

    row = AuditHead.objects.filter(pk=1).values_list("seq", "hash").first()
    return (int(row[0]), str(row[1])) if row else None


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_checkpoint(path: Path, key: Ed25519PublicKey, kid: str) -> Checkpoint:
    """The checkpoint in ``path``; raises ValueError saying why it cannot be trusted."""
    try:
        data = json.loads(path.read_bytes())
        seq, chain_hash, at, signer = int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["key_id"])
        signature = base64.b64decode(data["signature"], validate=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable checkpoint {path.name}: {exc}") from None
    if signer != kid:
        raise ValueError(f"{path.name} is signed by unknown key {signer} (current key {kid})")
    try:
        key.verify(signature, checkpoint_message(data))
    except InvalidSignature:
        raise ValueError(f"{path.name}: signature does not verify") from None
    return Checkpoint(seq, chain_hash, at, signer, path)


def read_checkpoints(directory: Path | None = None) -> tuple[list[Checkpoint], list[Problem]]:
    """Every checkpoint with a valid signature, and a problem for each one without."""
    directory = directory or _checkpoint_dir()
    if not directory.is_dir():
        return [], []
    key = public_key()
    kid = key_id(key)
    valid: list[Checkpoint] = []
    bad: list[Problem] = []
    for path in sorted(directory.glob(_CHECKPOINT_GLOB)):
        try:
            valid.append(_load_checkpoint(path, key, kid))
        except ValueError as exc:
            bad.append(Problem(ProblemKind.BAD_SIGNATURE, _seq_from_name(path), None, str(exc)))
    pub = directory / PUBLIC_KEY_FILE
    if pub.exists() and pub.read_bytes() != public_key_pem(key):
        bad.append(Problem(ProblemKind.BAD_SIGNATURE, None, None,
                           f"{PUBLIC_KEY_FILE} is not the public half of the configured signing key"))
    return valid, bad


def _seq_from_name(path: Path) -> int | None:
    digits = path.stem.removeprefix("checkpoint-")
    return int(digits) if digits.isdigit() else None


def _latest_valid_checkpoint(directory: Path, before: int) -> Checkpoint | None:
    key = public_key()
    kid = key_id(key)
    named = sorted(
        ((seq, path) for path in directory.glob(_CHECKPOINT_GLOB) if (seq := _seq_from_name(path)) is not None),
        reverse=True,
    )
    for seq, path in named:
        if seq >= before:
            continue
        try:
            return _load_checkpoint(path, key, kid)
        except ValueError:
            continue
    return None


def write_checkpoint() -> Path | None:
    """Sign the current head and write it out; None while the chain is empty. Idempotent per seq.

    1. Read the head (seq, hash); an existing file for that seq is returned untouched (never re-signed).
    2. Re-verify the rows since the previous valid checkpoint (or from the start): contiguous, linked,
       each hash recomputing, ending at the head's hash. Raises :class:`AuditChainError` otherwise.
    3. Sign, write atomically (temporary file + rename), and (re)write the public key next to it.
    """
    head = _read_head()
    if head is None or head[0] == 0:
        return None
    seq, head_hash = head
    directory = _checkpoint_dir()
    directory.mkdir(parents=True, exist_ok=True)
    pub = directory / PUBLIC_KEY_FILE
    pem = public_key_pem()
    if not pub.exists() or pub.read_bytes() != pem:
        _atomic_write(pub, pem)
    path = directory / f"checkpoint-{seq:012d}.json"
    if path.exists():
        return path
    _check_segment(directory, seq, head_hash)
    body: dict[str, Any] = {
        "seq": seq,
        "hash": head_hash,
        "at": timezone.now().isoformat(timespec="microseconds"),
        "key_id": key_id(),
    }
    body["signature"] = base64.b64encode(_private_key().sign(checkpoint_message(body))).decode()
    _atomic_write(path, (json.dumps(body, indent=2, sort_keys=True) + "\n").encode())
    return path


def _check_segment(directory: Path, seq: int, head_hash: str) -> None:
    from lingjing.security.audit_models import AuditEntry

    start = _latest_valid_checkpoint(directory, seq)
    expected_seq, expected_prev = (start.seq + 1, start.hash) if start else (1, GENESIS)
    rows = AuditEntry.objects.filter(seq__gte=expected_seq, seq__lte=seq).order_by("seq").values_list(
        *_CHAIN_FIELDS, named=True
    )
    for row in rows.iterator(chunk_size=CHUNK):
        if row.seq != expected_seq or row.prev_hash != expected_prev or entry_hash(row, row.prev_hash) != row.hash:
            raise AuditChainError(
                f"refusing to sign checkpoint {seq}: the chain is broken at seq {row.seq} "
                f"(expected seq {expected_seq}); run `lingjing audit verify`"
            )
        expected_seq, expected_prev = row.seq + 1, row.hash
    if expected_seq != seq + 1 or expected_prev != head_hash:
        raise AuditChainError(
            f"refusing to sign checkpoint {seq}: the rows end at seq {expected_seq - 1}, not at the head's hash; "
            "run `lingjing audit verify`"
        )


# --- verification -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """The chain-relevant part of a row, kept for suspects and their neighbours."""

    seq: int
    id: str
    hash: str
    prev_hash: str


@dataclass
class _Suspect:
    row: Any  # the named row from values_list
    ref: _Ref
    consistent: bool
    orig: int | None = None  # the seq it was written at, once known


class _Ranges:
    """Sorted, disjoint, inclusive integer ranges (deleted positions can number millions)."""

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self.items: list[tuple[int, int]] = sorted(r for r in ranges if r[0] <= r[1])

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and any(a <= value <= b for a, b in self.items)

    def add(self, a: int, b: int) -> None:
        if a <= b:
            self.items = _merge([*self.items, (a, b)])

    def remove(self, value: int) -> None:
        out: list[tuple[int, int]] = []
        for a, b in self.items:
            if a <= value <= b:
                out.extend(r for r in ((a, value - 1), (value + 1, b)) if r[0] <= r[1])
            else:
                out.append((a, b))
        self.items = out

    def clip(self, low: int, high: int) -> None:
        self.items = [(max(a, low), min(b, high)) for a, b in self.items if max(a, low) <= min(b, high)]

    def start_of(self, value: int) -> int | None:
        for a, b in self.items:
            if a <= value <= b:
                return a
        return None


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class _Verifier:
    def __init__(self, *, deep: bool) -> None:
        self.deep = deep
        self.report = VerifyReport()
        self.suspects: dict[int, _Suspect] = {}
        self.context: dict[int, _Ref] = {}  # healthy neighbours of suspects, by seq
        self.watch: dict[int, _Ref] = {}  # rows at checkpoint seqs and at the head's seq
        self.beyond_head: list[_Ref] = []
        self.gaps = _Ranges()
        self.last_seq = 0
        self.by_hash: dict[str, list[int]] = defaultdict(list)
        self.by_prev: dict[str, list[int]] = defaultdict(list)
        self.reported: set[str] = set()

    # 1. first pass ----------------------------------------------------------------------------------------

    def stream(self, head1: tuple[int, str] | None, checkpoint_seqs: set[int]) -> None:
        from lingjing.security.audit_models import AuditEntry

        names = (*_CHAIN_FIELDS, "sealed") if self.deep else _CHAIN_FIELDS
        rows = AuditEntry.objects.order_by("seq").values_list(*names, named=True)
        head_seq = head1[0] if head1 else 0
        watched = checkpoint_seqs | {head_seq}
        prev: _Ref | None = None
        prev_at: datetime | None = None
        after_suspect = False
        for row in rows.iterator(chunk_size=CHUNK):
            self.report.entries += 1
            ref = _Ref(row.seq, str(row.id), row.hash, row.prev_hash)
            consistent = entry_hash(row, row.prev_hash) == row.hash
            expected_seq = prev.seq + 1 if prev else 1
            if row.seq > expected_seq:
                self.gaps.add(expected_seq, row.seq - 1)
            fits = consistent and row.seq == expected_seq and row.prev_hash == (prev.hash if prev else GENESIS)
            if not fits:
                if len(self.suspects) < MAX_SUSPECTS:
                    self.suspects[row.seq] = _Suspect(row, ref, consistent)
                    if prev is not None:
                        self.context[prev.seq] = prev
                else:
                    self.report.unanalysed += 1
            elif after_suspect:
                self.context[row.seq] = ref
            if fits and prev_at is not None and row.at < prev_at and len(self.report.notes) < MAX_NOTES:
                self.report.notes.append(
                    f"seq {row.seq}: timestamp {row.at.isoformat()} precedes seq {prev.seq if prev else '?'} "
                    "(clock skew between writers; the entry itself is authentic)"
                )
            if row.seq in watched:
                self.watch[row.seq] = ref
            if row.seq > head_seq and len(self.beyond_head) < MAX_SUSPECTS:
                self.beyond_head.append(ref)
            if self.deep:
                self._check_sealed(row)
            after_suspect = not fits
            prev, prev_at = ref, row.at
        self.last_seq = prev.seq if prev else 0

    def _check_sealed(self, row: Any) -> None:
        """--deep: the sealed details must open and match the MAC that the chain hashed."""
        from lingjing.security.audit_models import AuditEntry

        envelope = row.sealed
        if not envelope and not row.detail_mac:
            return
        message = None
        if not envelope:
            message = "sealed personal details were removed (the chain hashed a MAC of them)"
        elif not row.detail_mac:
            message = "sealed personal details were added after the fact (no MAC in the chain)"
        else:
            try:
                plain = open_sealed(str(envelope), associated_data(AuditEntry._meta.db_table, "sealed", row.id))
            except CryptoError:
                message = "sealed personal details do not open under their key (altered or moved)"
            else:
                if plain is not None and detail_mac(plain) != row.detail_mac:
                    message = "sealed personal details differ from what the chain hashed"
        if message:
            self._add(ProblemKind.EDITED, row.seq, str(row.id), message)

    # 2. second pass: who links to what ---------------------------------------------------------------------

    def index_links(self) -> None:
        from lingjing.security.audit_models import AuditEntry

        wanted: set[str] = set()
        for suspect in self.suspects.values():
            wanted.update((suspect.ref.hash, suspect.ref.prev_hash))
        wanted.update(ref.hash for ref in self.context.values())
        rows = AuditEntry.objects.order_by("seq").values_list("seq", "hash", "prev_hash")
        for seq, row_hash, prev_hash in rows.iterator(chunk_size=CHUNK):
            if row_hash in wanted:
                self.by_hash[row_hash].append(seq)
            if prev_hash in wanted:
                self.by_prev[prev_hash].append(seq)

    def orig_of(self, seq: int) -> int:
        suspect = self.suspects.get(seq)
        return suspect.orig if suspect is not None and suspect.orig is not None else seq

    def resolve_positions(self, witnesses: dict[str, int]) -> None:
        """Find the seq each inconsistent suspect was written at.

        1. From the rows its links point to (its predecessor's position + 1, its successor's - 1), and from the
           head and the checkpoints (``witnesses``: hash -> seq), sweeping forwards and backwards while that helps.
        2. When links are broken on both sides, by trying the positions around the other suspects (bounded).
        """
        for suspect in self.suspects.values():
            if suspect.consistent:
                suspect.orig = suspect.ref.seq
        pending = [s for s in self.suspects.values() if s.orig is None]
        forward = True
        tried_pool = False
        while pending:
            progress = False
            for suspect in pending if forward else reversed(pending):
                found = self._find_orig(suspect, self._linked_candidates(suspect, witnesses))
                if found is not None:
                    suspect.orig = found
                    progress = True
            if not progress and not tried_pool:
                pool = self._candidate_pool()
                if len(pool) * len(pending) <= _MAX_POOL_TRIES:
                    for suspect in pending:
                        suspect.orig = self._find_orig(suspect, pool)
                        progress = progress or suspect.orig is not None
                tried_pool = True
            pending = [s for s in pending if s.orig is None]
            if not progress:
                break
            forward = not forward

    def _linked_candidates(self, suspect: _Suspect, witnesses: dict[str, int]) -> list[int]:
        ref = suspect.ref
        candidates: list[int] = [1] if ref.prev_hash == GENESIS else []
        candidates += [self.orig_of(p) + 1 for p in self.by_hash.get(ref.prev_hash, ()) if p != ref.seq]
        candidates += [self.orig_of(q) - 1 for q in self.by_prev.get(ref.hash, ()) if q != ref.seq]
        if ref.hash in witnesses:
            candidates.append(witnesses[ref.hash])
        return candidates

    def _candidate_pool(self) -> list[int]:
        """Positions near the suspects and inside small gaps: where a moved row can have come from."""
        pool: set[int] = set()
        for seq in self.suspects:
            pool.update((seq - 1, seq, seq + 1))
        for a, b in self.gaps.items:  # both ends of every gap: a row moved far away leaves one behind
            pool.update(range(a, min(b, a + 100) + 1))
            pool.update(range(max(a, b - 100), b + 1))
        return sorted(pool)

    def _find_orig(self, suspect: _Suspect, candidates: Iterable[int]) -> int | None:
        ref = suspect.ref
        for candidate in dict.fromkeys(candidates):
            if candidate != ref.seq and candidate >= 0 and (
                entry_hash(suspect.row._replace(seq=candidate), ref.prev_hash) == ref.hash
            ):
                return candidate
        return None

    # 3. explain ------------------------------------------------------------------------------------------

    def _add(self, kind: ProblemKind, seq: int | None, entry_id: str | None, message: str,
             last_seq: int | None = None) -> None:
        if entry_id is not None:
            if entry_id in self.reported:
                return
            self.reported.add(entry_id)
        self.report.problems.append(Problem(kind, seq, entry_id, message, last_seq))

    def explain(self, head1: tuple[int, str] | None, head2: tuple[int, str] | None,
                checkpoints: list[Checkpoint]) -> None:
        moved = {s.ref.seq: s.orig for s in self.suspects.values() if s.orig is not None and s.orig != s.ref.seq}
        edited = [s for s in self.suspects.values() if s.orig is None]
        head2_seq = head2[0] if head2 else 0

        # Rows that sit beyond the head (read after the stream, so concurrent appends are not counted). Without
        # a head there is nothing to be beyond: the missing head is the problem (see _check_head).
        beyond = [r for r in self.beyond_head if self.orig_of(r.seq) > head2_seq] if head1 and head2 else []
        for ref in beyond:
            self._add(ProblemKind.INSERTED, ref.seq, ref.id, f"beyond the head (seq {head2_seq}): not appended by "
                      "the application")
        beyond_seqs = {r.seq for r in beyond}

        for suspect in edited:
            self._add(ProblemKind.EDITED, suspect.ref.seq, suspect.ref.id,
                      "content does not match its hash (changed after it was written)")
        self._report_moves(moved)

        # Positions nobody occupies: gaps, plus seqs vacated by moved rows that no moved row filled.
        max_orig = self._max_orig(moved, beyond_seqs)
        missing = _Ranges(self.gaps.items)
        for current in moved:
            missing.add(current, current)
        for orig in moved.values():
            missing.remove(orig)
        missing.clip(1, max_orig)
        head1_seq = head1[0] if head1 else 0
        if head1_seq > max_orig:
            missing.add(max_orig + 1, head1_seq)
        for a, b in missing.items:
            tail = " (the tail after the last entry; the head still counts them)" if a > max_orig else ""
            self._add(ProblemKind.DELETED, a, None, f"{b - a + 1} entr{'y' if a == b else 'ies'} missing{tail}", b)

        positions = self._positions()
        self._report_duplicates(positions, head1)
        for suspect in sorted(self.suspects.values(), key=lambda s: s.ref.seq):
            if suspect.orig is not None and suspect.ref.seq not in beyond_seqs:
                self._check_link(suspect, suspect.orig, missing, positions)

        self._check_head(head1, positions, max_orig)
        self._check_checkpoints(checkpoints, positions, max_orig)

    def _max_orig(self, moved: dict[int, int], inserted: set[int]) -> int:
        """The last position of the chain: the highest seq held by a row that is neither moved nor forged."""
        seq = self.last_seq
        while seq > 0:
            if seq in moved or seq in inserted:
                seq -= 1
            elif (start := self.gaps.start_of(seq)) is not None:
                seq = start - 1
            else:
                break
        return max([seq, *moved.values()])

    def _positions(self) -> dict[int, list[_Ref]]:
        """The rows known around suspects, by the seq they were written at."""
        positions: dict[int, list[_Ref]] = defaultdict(list)
        for seq, ref in self.context.items():
            if seq not in self.suspects:
                positions[seq].append(ref)
        for suspect in self.suspects.values():
            positions[suspect.orig if suspect.orig is not None else suspect.ref.seq].append(suspect.ref)
        for seq, ref in self.watch.items():
            if seq not in self.suspects and ref not in positions[seq]:
                positions[seq].append(ref)
        return positions

    def _report_moves(self, moved: dict[int, int]) -> None:
        """One problem per run of consecutive rows moved by the same offset (a swap gives two)."""
        runs: list[list[int]] = []
        for current in sorted(moved):
            last = runs[-1][-1] if runs else None
            if last is not None and current == last + 1 and moved[current] - current == moved[last] - last:
                runs[-1].append(current)
            else:
                runs.append([current])
        for run in runs:
            first, last = run[0], run[-1]
            if first == last:
                message = f"stored at seq {first} but written at seq {moved[first]}"
            else:
                message = f"stored at seq {first}–{last} but written at seq {moved[first]}–{moved[last]}"
            self._add(ProblemKind.REORDERED, first, self.suspects[first].ref.id if first == last else None,
                      message, last)
            self.reported.update(self.suspects[s].ref.id for s in run)

    def _links_to(self, ref: _Ref, orig: int) -> bool:
        if orig == 1:
            return ref.prev_hash == GENESIS
        return any(self.orig_of(p) == orig - 1 for p in self.by_hash.get(ref.prev_hash, ()))

    def _is_linked_from(self, ref: _Ref, orig: int, head1: tuple[int, str] | None) -> bool:
        if head1 is not None and head1[0] == orig and head1[1] == ref.hash:
            return True
        return any(self.orig_of(q) == orig + 1 for q in self.by_prev.get(ref.hash, ()))

    def _report_duplicates(self, positions: dict[int, list[_Ref]], head1: tuple[int, str] | None) -> None:
        for orig, refs in sorted(positions.items()):
            if len(refs) < 2:
                continue
            genuine = [r for r in refs if self._links_to(r, orig) and self._is_linked_from(r, orig, head1)]
            for ref in refs:
                if len(genuine) != 1 or ref is not genuine[0]:
                    self._add(ProblemKind.INSERTED, ref.seq, ref.id,
                              f"a second entry claiming position {orig}; the chain does not run through it")

    def _check_link(self, suspect: _Suspect, orig: int, missing: _Ranges, positions: dict[int, list[_Ref]]) -> None:
        ref = suspect.ref
        if ref.id in self.reported and suspect.orig == ref.seq:
            return
        if orig < 1:
            self._add(ProblemKind.INSERTED, ref.seq, ref.id, "out of place: seq values start at 1")
            return
        if self._links_to(ref, orig) or (orig - 1) in missing:
            return  # fits, or its predecessor was deleted (already reported)
        elsewhere = [p for p in self.by_hash.get(ref.prev_hash, ()) if p != ref.seq]
        if elsewhere or orig == 1:
            target = f"the entry at seq {elsewhere[0]}" if elsewhere else "an unknown hash"
            self._add(ProblemKind.INSERTED, ref.seq, ref.id,
                      f"links to {target}, not to its predecessor at seq {orig - 1}")
            return
        # It committed to a predecessor hash that no row has: the row before it was rewritten.
        before = positions.get(orig - 1, [])
        if any(r.id in self.reported for r in before):
            return
        target_ref = before[0] if before else None
        self._add(ProblemKind.EDITED, target_ref.seq if target_ref else orig - 1, target_ref.id if target_ref else None,
                  f"rewritten with a recomputed hash: seq {orig} committed to a different hash for it")

    def _row_at(self, orig: int, positions: dict[int, list[_Ref]]) -> _Ref | None:
        refs = positions.get(orig) or []
        return refs[0] if refs else None

    def _check_head(self, head1: tuple[int, str] | None, positions: dict[int, list[_Ref]], max_orig: int) -> None:
        if head1 is None:
            if self.report.entries:
                self._add(ProblemKind.HEAD_MISMATCH, None, None,
                          f"the head pointer is missing but {self.report.entries} entries exist")
            return
        self.report.head_seq = head1[0]
        if head1[0] == 0 or head1[0] > max_orig:
            if head1[0] == 0 and self.report.entries:
                self._add(ProblemKind.HEAD_MISMATCH, None, None, "the head is at seq 0 but entries exist")
            return
        ref = self._row_at(head1[0], positions)
        if ref is not None and ref.hash != head1[1] and ref.id not in self.reported:
            self._add(ProblemKind.HEAD_MISMATCH, ref.seq, ref.id,
                      "the head records another hash for this entry (entry rewritten, or head changed)")

    def _check_checkpoints(self, checkpoints: list[Checkpoint], positions: dict[int, list[_Ref]],
                           max_orig: int) -> None:
        for cp in checkpoints:
            if cp.seq > max_orig:
                self._add(ProblemKind.CHECKPOINT_MISMATCH, cp.seq, None,
                          f"{cp.path.name} covers seq {cp.seq} but the chain ends at seq {max_orig} (tail truncated)")
                continue
            ref = self._row_at(cp.seq, positions)
            if ref is not None and ref.hash != cp.hash:
                # Not deduplicated by id: the signed hash is independent evidence.
                self.report.problems.append(Problem(
                    ProblemKind.CHECKPOINT_MISMATCH, ref.seq, ref.id,
                    f"{cp.path.name} signed hash {cp.hash[:12]}… but the chain has {ref.hash[:12]}… here",
                ))


def verify(*, deep: bool = False) -> VerifyReport:
    """Check the whole chain, the head and every checkpoint. See the module docstring for what is found.

    ``deep`` also opens every sealed detail and checks it against the MAC that the chain hashed (slower: one
    decryption per entry with personal details; shredded people are skipped, as intended).
    """
    checkpoints, bad = read_checkpoints()
    verifier = _Verifier(deep=deep)
    head1 = _read_head()
    verifier.stream(head1, {cp.seq for cp in checkpoints})
    head2 = _read_head()
    if verifier.suspects or verifier.gaps.items:
        verifier.index_links()
        witnesses = {cp.hash: cp.seq for cp in checkpoints}
        if head1 is not None:
            witnesses[head1[1]] = head1[0]
        verifier.resolve_positions(witnesses)
    verifier.explain(head1, head2, checkpoints)
    report = verifier.report
    report.checkpoints = len(checkpoints)
    report.problems.extend(bad)
    report.problems.sort(key=lambda p: (p.seq if p.seq is not None else -1, p.kind))
    return report


def iter_report_lines(report: VerifyReport) -> Iterator[str]:
    yield from (problem.line() for problem in report.problems)
    if report.unanalysed:
        yield f"… {report.unanalysed} more suspicious entries were not analysed (limit {MAX_SUSPECTS})"
