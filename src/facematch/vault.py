"""Families' data at rest: what a family told us and what reviewers wrote about a case, and their kept photos,
encrypted.

A team server holds many families' photos and the names of the people they are looking for; a copied
disk or a stolen backup must not give them away. So in team mode these are encrypted with AES-256-GCM
(`cryptography`) under a key derived from a passphrase with argon2id (`argon2-cffi`'s hash_secret_raw),
given once when the server starts. The archive side (its photos, faces, records) is not encrypted: it is
already public (leaked) material, and searching it must stay fast.

The index keeps the salt and a verifier (a known text encrypted with the key) in its meta table, never the
key: a wrong passphrase fails on the verifier with a clear message before anything is read or written.

Every sealed value is bound to where it belongs (AES-GCM associated data, `place()`: table, column, case and
row), so someone who can write the file cannot move a value or a photo from one case (or one decision) to
another: it would no longer open. Encrypted text values start with `enc2:` (`enc1:`, bound only to a field name,
is what facematch wrote before; unlocking re-seals it once, and never accepts it after that); encrypted files
start with FILE_MAGIC.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from hashlib import sha256

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .i18n import _

TEXT_PREFIX = "enc2:"
#: Text sealed by facematch before values were bound to their case and row (only the field name was bound):
#: re-sealed by the first unlock of this version (store.cases.Cases.seal_existing), never read after that.
LEGACY_PREFIX = "enc1:"
FILE_MAGIC = b"FMENC1\n"
#: argon2id for the key: 64 MiB and 3 passes take about a third of a second here, once per server start.
KDF = {"time_cost": 3, "memory_cost": 64 * 1024, "parallelism": 1, "hash_len": 32}
_VERIFIER = b"facematch vault v1: the passphrase is right"
MIN_PASSPHRASE = 12
#: The vault record's "bound" value once every sealed value and photo is bound to its case and row.
BOUND = 2


class VaultError(RuntimeError):
    """The families' data cannot be opened (no or a wrong passphrase); nothing was changed."""


def is_sealed(value: object) -> bool:
    """Is this stored value encrypted (in the current or the legacy form)?"""
    return isinstance(value, str) and value.startswith((TEXT_PREFIX, LEGACY_PREFIX))


def place(table: str, column: str, case_id: int, row: object) -> str:
    """Where a sealed value belongs, bound to it as AES-GCM associated data: the same bytes under another table,
    column, case or row do not open."""
    return f"facematch/{table}.{column}/case={int(case_id)}/row={row}"


class Vault:
    """The key of one index's families' data, able to seal and open texts and files."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._name_key = hmac.new(key, b"file names", sha256).digest()

    @staticmethod
    def derive(passphrase: str, salt: bytes, params: dict) -> bytes:
        return hash_secret_raw(passphrase.encode(), salt, type=Type.ID, **params)

    @classmethod
    def unlock(cls, stored: str | None, passphrase: str | None) -> tuple[Vault, dict]:
        """The vault of an index from its stored record (meta 'vault'; None: none yet), and the record.

        With no record yet, a new key is made and its record returned, to be stored by the caller in the same
        transaction that seals what was written before (Index.unlock): a crash in between leaves neither. A
        wrong passphrase raises VaultError; nothing is written here.
        """
        if not passphrase:
            raise VaultError(
                _(
                    "the families' data of this index is encrypted: give the passphrase (asked when the team server "
                    "starts, or --passphrase-file / --passphrase-fd)"
                )
            )
        if stored is None:
            if len(passphrase) < MIN_PASSPHRASE:
                raise VaultError(_("choose a passphrase of at least {n} characters (a few words)", n=MIN_PASSPHRASE))
            salt = os.urandom(16)
            vault = cls(cls.derive(passphrase, salt, KDF))
            record = {"kdf": "argon2id", "params": KDF, "salt": base64.b64encode(salt).decode()}
            record["verifier"] = vault.seal_text(_VERIFIER.decode(), "verifier")
            return vault, record
        record = json.loads(stored)
        vault = cls(cls.derive(passphrase, base64.b64decode(record["salt"]), record["params"]))
        try:
            ok = vault.open_text(record["verifier"], "verifier", legacy=True) == _VERIFIER.decode()
        except VaultError:
            ok = False
        if not ok:
            raise VaultError(_("wrong passphrase for the families' data of this index; nothing was read or changed"))
        return vault, record

    # -- texts (SQLite values) --------------------------------------------------------------------
    def seal_text(self, text: str, where: str) -> str:
        """`where` (place(): table, column, case, row) is bound to the ciphertext as AES-GCM associated data."""
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, text.encode(), where.encode())
        return TEXT_PREFIX + base64.b64encode(sealed).decode()

    def open_text(self, value: str, where: str, legacy: bool = False) -> str:
        """The text of a sealed value that belongs at `where`; VaultError if it does not open there (moved from
        another case or row, or changed). Only with `legacy` (re-sealing an older index) is an `enc1:` value read,
        with `where` then its old field name."""
        prefix = LEGACY_PREFIX if legacy and value.startswith(LEGACY_PREFIX) else TEXT_PREFIX
        if not value.startswith(prefix):
            raise VaultError(_("a value of the families' data is not sealed as it should be (changed on disk?)"))
        raw = base64.b64decode(value[len(prefix) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], where.encode()).decode()
        except (InvalidTag, ValueError) as e:
            raise VaultError(
                _("a value of the families' data does not open here with this key (changed or moved on disk?)")
            ) from e

    # -- files (kept photos) ----------------------------------------------------------------------
    def seal_bytes(self, data: bytes, where: str) -> bytes:
        nonce = os.urandom(12)
        return FILE_MAGIC + nonce + self._aead.encrypt(nonce, data, where.encode())

    def open_bytes(self, data: bytes, where: str) -> bytes:
        if not data.startswith(FILE_MAGIC):
            raise VaultError(
                _("a kept photo of the families' data is not encrypted as it should be (changed on disk?)")
            )
        raw = data[len(FILE_MAGIC) :]
        try:
            return self._aead.decrypt(raw[:12], raw[12:], where.encode())
        except (InvalidTag, ValueError) as e:
            raise VaultError(
                _("an encrypted case photo does not open here with this key (changed or moved on disk?)")
            ) from e

    def file_name(self, sha256_hex: str) -> str:
        """A kept photo's file name that does not reveal its content hash (keyed, so it cannot be guessed)."""
        return hmac.new(self._name_key, sha256_hex.encode(), sha256).hexdigest()[:24] + ".fmenc"


def photo_place(case_id: int, sha256_hex: str) -> str:
    """Where a kept photo's file belongs (its associated data): its case and its content."""
    return place("case_photos", "file", case_id, sha256_hex)


#: Where a kept photo's file was bound before this version (its content only).
def legacy_photo_place(sha256_hex: str) -> str:
    return f"photo:{sha256_hex}"
