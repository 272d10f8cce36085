"""The payload codec on its own: round trip, rotation (an old key still opens what it sealed; an unknown key is
refused), tampering, pass-through of clear payloads, and the settings that configure it."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from temporalio.api.common.v1 import Payload

from core.codec import ENCODING, KEY_ID_METADATA, CodecError, EncryptionCodec, KeyRing, new_key, parse_keys
from core.settings import TemporalSettings
from core.temporal import data_converter
from tests.support.codec import NEW_KEY, OLD_KEY, TEST_KEYS
from workflows.contracts import JourneyInput

SECRET = b'{"name":"Li Lei","phone":"13800000000"}'


def _ring(active: str, **keys: str) -> KeyRing:
    return KeyRing(parse_keys(",".join(f"{key_id}={key}" for key_id, key in keys.items())), active)


def _clear(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


async def test_round_trip_hides_data_and_metadata_and_names_the_key() -> None:
    codec = EncryptionCodec(_ring("k1", k1=OLD_KEY))
    [sealed] = await codec.encode([_clear()])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"k1"
    assert SECRET not in sealed.data
    assert b"json/plain" not in sealed.data
    [opened] = await codec.decode([sealed])
    assert opened == _clear()
    # A fresh nonce per payload: the same value never seals to the same bytes.
    [again] = await codec.encode([_clear()])
    assert again.data != sealed.data


async def test_after_rotation_old_payloads_open_and_new_ones_use_the_new_key() -> None:
    before = EncryptionCodec(_ring("2026-01", **{"2026-01": OLD_KEY}))
    [old] = await before.encode([_clear(b'"old"')])
    rotated = EncryptionCodec(_ring("2026-07", **{"2026-01": OLD_KEY, "2026-07": NEW_KEY}))
    [new] = await rotated.encode([_clear(b'"new"')])
    assert new.metadata[KEY_ID_METADATA] == b"2026-07"
    assert [p.data for p in await rotated.decode([old, new])] == [b'"old"', b'"new"']
    # The pre-rotation process cannot read the new key's payloads, and says which key it lacks.
    with pytest.raises(CodecError, match="'2026-07', which is not in the key ring"):
        await before.decode([new])


async def test_an_unknown_key_a_relabelled_key_or_altered_bytes_are_refused() -> None:
    codec = EncryptionCodec(_ring("a", a=OLD_KEY, b=NEW_KEY))
    [sealed] = await codec.encode([_clear()])
    unknown = Payload(metadata={**sealed.metadata, KEY_ID_METADATA: b"retired"}, data=sealed.data)
    with pytest.raises(CodecError, match="'retired', which is not in the key ring"):
        await codec.decode([unknown])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID_METADATA: b"b"}, data=sealed.data)
    with pytest.raises(CodecError, match="failed authentication"):
        await codec.decode([relabelled])
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    with pytest.raises(CodecError, match="failed authentication"):
        await codec.decode([Payload(metadata=sealed.metadata, data=bytes(flipped))])
    with pytest.raises(CodecError, match="truncated"):
        await codec.decode([Payload(metadata=sealed.metadata, data=b"short")])


async def test_clear_payloads_pass_through_so_histories_from_before_encryption_stay_readable() -> None:
    codec = EncryptionCodec(_ring("k", k=OLD_KEY))
    clear = [_clear(), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec.decode(clear) == clear


async def test_the_data_converter_seals_pydantic_inputs_only_when_keys_are_set() -> None:
    value = JourneyInput(member_id="m-1", kind="welcome")
    plain = data_converter(TemporalSettings())
    assert plain.payload_codec is None
    sealed = data_converter(TemporalSettings(codec_keys=SecretStr(TEST_KEYS), codec_active_key="test-new"))
    [payload] = await sealed.encode([value])
    assert payload.metadata["encoding"] == ENCODING
    assert b"m-1" not in payload.data
    assert await sealed.decode([payload], [JourneyInput]) == [value]
    # A payload written in clear (codec off) is read by the encrypting converter as it is.
    assert await sealed.decode(await plain.encode([value]), [JourneyInput]) == [value]


@pytest.mark.parametrize(
    ("keys", "active", "error"),
    [
        (f"k1={OLD_KEY}", "k2", "the active key 'k2' is not among the keys"),
        (f"k1={OLD_KEY},k2={NEW_KEY}", None, "must name one of several"),
        ("k1=c2hvcnQ=", None, "is 5 bytes; AES-256 needs exactly 32"),
        ("k1=not*base64", None, "not valid base64"),
        (f"k1={OLD_KEY},k1={NEW_KEY}", "k1", "given twice"),
        (f"bad id={OLD_KEY}", None, "must be 1-64 characters"),
        (OLD_KEY.rstrip("="), None, "has no value"),
        ("", "k1", "codec_active_key is set but codec_keys is empty"),
    ],
)
def test_bad_codec_settings_fail_at_start_up(keys: str, active: str | None, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        TemporalSettings(codec_keys=SecretStr(keys), codec_active_key=active)


def test_one_key_needs_no_active_key_and_new_keys_are_aes_256() -> None:
    ring = TemporalSettings(codec_keys=SecretStr(f" only = {new_key()} ,")).key_ring()
    assert ring is not None
    assert ring.active == "only"
    assert len(ring.keys["only"]) == 32


def test_settings_load_the_ring_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import Settings

    monkeypatch.setenv("MEMBERFLOW_TEMPORAL__CODEC_KEYS", TEST_KEYS)
    monkeypatch.setenv("MEMBERFLOW_TEMPORAL__CODEC_ACTIVE_KEY", "test-old")
    ring = Settings().temporal.key_ring()
    assert ring is not None
    assert ring.active == "test-old"
    assert set(ring.keys) == {"test-old", "test-new"}
