"""Families' data at rest: case names, notes, what the family knows and their kept photos, encrypted.

A team server holds many families' photos and the names of the people they are looking for; a copied
disk or a stolen backup must not give them away. So in team mode these are encrypted with AES-256-GCM
(`cryptography`) under a key derived from a passphrase with argon2id (`argon2-cffi`'s hash_secret_raw),
asked once when the server starts. The archive side (its photos, faces, records) is not encrypted: it is
already public (leaked) material, and searching it must stay fast.

The index keeps the salt and a verifier (a known text encrypted with the key) in its meta table, never the
key: a wrong passphrase fails on the verifier with a clear message before anything is read or written.
Encrypted text values start with `enc1:`; encrypted files start with FILE_MAGIC. A value without the
prefix was written before the index was encrypted; unlocking the index for the first time encrypts them.
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

TEXT_PREFIX = "enc1:"
FILE_MAGIC = b"FMENC1\n"
#: argon2id for the key: 64 MiB and 3 passes take about a third of a second here, once per server start.
KDF = {"time_cost": 3, "memory_cost": 64 * 1024, "parallelism": 1, "hash_len": 32}
_VERIFIER = b"facematch vault v1: the passphrase is right"
MIN_PASSPHRASE = 12


class VaultError(RuntimeError):
    """The families' data cannot be opened (no or a wrong passphrase); nothing was changed."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TEXT_PREFIX)


class Vault:
    """The key of one index's families' data, able to seal and open texts and files."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._name_key = hmac.new(key, b"file names", sha256).digest()

    @staticmethod
    def derive(passphrase: str, salt: bytes, params: dict) -> bytes:
        return hash_secret_raw(passphrase.encode(), salt, type=Type.ID, **params)

    @classmethod
    def unlock(cls, meta_get, meta_set, passphrase: str | None) -> tuple[Vault, bool]:
        """The vault of an index (its meta get/set functions), created on first use; (vault, created).

        A wrong passphrase raises VaultError before anything is written.
        """
        if not passphrase:
            raise VaultError(
                "the families' data of this index is encrypted: give the passphrase (asked when the team server "
                "starts, or FACEMATCH_PASSPHRASE for automation)"
            )
        stored = meta_get("vault")
        if stored is None:
            if len(passphrase) < MIN_PASSPHRASE:
                raise VaultError(_("choose a passphrase of at least {n} characters (a few words)", n=MIN_PASSPHRASE))
            salt = os.urandom(16)
            vault = cls(cls.derive(passphrase, salt, KDF))
            record = {"kdf": "argon2id", "params": KDF, "salt": base64.b64encode(salt).decode()}
            record["verifier"] = vault.seal_text(_VERIFIER.decode(), "verifier")
            meta_set("vault", json.dumps(record))
            return vault, True
        record = json.loads(stored)
        vault = cls(cls.derive(passphrase, base64.b64decode(record["salt"]), record["params"]))
        try:
            ok = vault.open_text(record["verifier"], "verifier") == _VERIFIER.decode()
        except VaultError:
            ok = False
        if not ok:
            raise VaultError(_("wrong passphrase for the families' data of this index; nothing was read or changed"))
        return vault, False

    # -- texts (SQLite values) --------------------------------------------------------------------
    def seal_text(self, text: str, field: str) -> str:
        """`field` is bound to the ciphertext (AES-GCM associated data): a value cannot be moved to another field."""
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, text.encode(), field.encode())
        return TEXT_PREFIX + base64.b64encode(sealed).decode()

    def open_text(self, value: str, field: str) -> str:
        if not is_sealed(value):
            return value  # written before this index was encrypted
        raw = base64.b64decode(value[len(TEXT_PREFIX) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], field.encode()).decode()
        except InvalidTag as e:
            raise VaultError(f"the encrypted {field} does not open with this key (changed on disk?)") from e

    # -- files (kept photos) ----------------------------------------------------------------------
    def seal_bytes(self, data: bytes, field: str) -> bytes:
        nonce = os.urandom(12)
        return FILE_MAGIC + nonce + self._aead.encrypt(nonce, data, field.encode())

    def open_bytes(self, data: bytes, field: str) -> bytes:
        if not data.startswith(FILE_MAGIC):
            return data
        raw = data[len(FILE_MAGIC) :]
        try:
            return self._aead.decrypt(raw[:12], raw[12:], field.encode())
        except InvalidTag as e:
            raise VaultError("an encrypted case photo does not open with this key (changed on disk?)") from e

    def file_name(self, sha256_hex: str) -> str:
        """A kept photo's file name that does not reveal its content hash (keyed, so it cannot be guessed)."""
        return hmac.new(self._name_key, sha256_hex.encode(), sha256).hexdigest()[:24] + ".fmenc"
