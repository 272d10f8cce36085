"""Temporal payload encryption: an AES-256-GCM payload codec over a ring of named keys, so that Temporal's
database and anyone reading its histories see ciphertext, while the worker, the API and the codec endpoint
(for the Temporal UI) see the payloads.

Each encrypted payload names the key that sealed it (metadata "encryption-key-id"), so the ring can hold old
keys after the active one changes: rotation never makes an existing history unreadable. Payloads without the
encrypted encoding pass through unchanged, which keeps histories recorded before encryption was switched on
readable after it is."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce; random per payload (2^32 payloads per key keep collisions negligible)
_KEY_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class CodecError(ValueError):
    """A payload or a key ring that cannot be used: an unknown key id, a tampered payload, a malformed key."""


@dataclass(frozen=True)
class KeyRing:
    """The keys a process may decrypt with, by id, and the one it encrypts with."""

    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise CodecError("the key ring is empty")
        for key_id, key in self.keys.items():
            check_key_id(key_id)
            if len(key) != KEY_BYTES:
                raise CodecError(f"key {key_id!r} is {len(key)} bytes; AES-256 needs exactly {KEY_BYTES}")
        if self.active not in self.keys:
            raise CodecError(f"the active key {self.active!r} is not among the keys ({', '.join(sorted(self.keys))})")


def check_key_id(key_id: str) -> None:
    if not key_id or len(key_id) > 64 or not set(key_id) <= _KEY_ID_CHARS:
        raise CodecError(f"key id {key_id!r} must be 1-64 characters of letters, digits, '-', '_' or '.'")


def parse_keys(text: str) -> dict[str, bytes]:
    """Keys from `id=base64,id=base64` (the form MEMBERFLOW_TEMPORAL__CODEC_KEYS takes). Every key must be
    32 random bytes, e.g. `openssl rand -base64 32`."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition("=")
        key_id = key_id.strip()
        if not sep:
            raise CodecError(f"codec key {key_id!r} has no value: write id=base64key")
        check_key_id(key_id)
        if key_id in keys:
            raise CodecError(f"codec key {key_id!r} is given twice")
        try:
            keys[key_id] = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CodecError(f"codec key {key_id!r} is not valid base64") from exc
    return keys


def new_key() -> str:
    """A fresh key, base64-encoded, as the docs tell operators to make one."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


class EncryptionCodec(PayloadCodec):
    """Seals every payload with the active key; opens whichever key a payload names. The key id is also the
    cipher's associated data, so a payload relabelled with another key id fails authentication."""

    def __init__(self, ring: KeyRing) -> None:
        super().__init__()
        self._ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    @property
    def active_key(self) -> str:
        return self._ring.active

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        key_id = self._ring.active
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # recorded before encryption was on (or by a codec-less client): already readable
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(sorted(self._ciphers))
            raise CodecError(f"payload sealed with key {key_id!r}, which is not in the key ring ({known})")
        if len(payload.data) <= NONCE_BYTES:
            raise CodecError(f"payload sealed with key {key_id!r} is truncated")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag as exc:
            raise CodecError(
                f"payload sealed with key {key_id!r} failed authentication (altered or wrong key)"
            ) from exc
        return Payload.FromString(plain)
