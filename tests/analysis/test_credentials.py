"""Content Credentials: what a file's C2PA manifest declares, read offline, and how far it can be believed."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.analysis.credentials import TrustAnchorsError, credentials_version, read_credentials
from monitor.config import CredentialsSettings
from tests.support.content_credentials import (
    CAMERA_MADE,
    CredentialsPki,
    flip_last_byte_of_image_data,
    sign,
)
from tests.support.fuzzing import fuzz


@pytest.fixture
def pki(credentials_pki: CredentialsPki) -> CredentialsPki:
    return credentials_pki


@pytest.fixture
def trusting(pki: CredentialsPki) -> CredentialsSettings:
    return CredentialsSettings(trust_anchors=str(pki.root_pem))


NO_ANCHORS = CredentialsSettings(trust_anchors="")


def tone_wav(path: Path) -> Path:
    samples = (np.sin(np.arange(32000) * 0.05) * 8000).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.tobytes())
    return path


def test_a_file_without_credentials_reads_as_none(grace_hopper_path, tmp_path):
    assert read_credentials(grace_hopper_path, NO_ANCHORS) is None
    assert read_credentials(tone_wav(tmp_path / "tone.wav"), NO_ANCHORS) is None


def test_an_ai_generated_image_says_so_and_who_signed_it(pki, trusting, grace_hopper_path, tmp_path):
    signed = sign(pki, grace_hopper_path, tmp_path / "made.jpg", software_agent="Test Model 2")

    read = read_credentials(signed, trusting)

    assert read == {
        "validation_state": "trusted",
        "signer": "Test Generator (Likeness tests)",
        "claim_generator": "Test Generator 1.0",
        "ai_generated": True,
        "actions": [{"action": "c2pa.created", "digital_source_type": "trainedAlgorithmicMedia",
                     "software_agent": "Test Model 2"}],
        "failures": [],
    }


def test_a_signer_outside_the_trust_anchors_is_valid_but_not_trusted(pki, grace_hopper_path, tmp_path):
    read = read_credentials(sign(pki, grace_hopper_path, tmp_path / "made.jpg"), NO_ANCHORS)

    assert read["validation_state"] == "valid"
    assert read["failures"] == ["signingCredential.untrusted"]
    assert read["ai_generated"] is True


def test_a_camera_capture_is_not_declared_ai_generated(pki, trusting, grace_hopper_path, tmp_path):
    read = read_credentials(sign(pki, grace_hopper_path, tmp_path / "shot.jpg", CAMERA_MADE), trusting)

    assert read["validation_state"] == "trusted" and read["ai_generated"] is False
    assert read["actions"][0]["digital_source_type"] == "digitalCapture"


def test_a_file_changed_after_signing_reads_as_invalid(pki, trusting, grace_hopper_path, tmp_path):
    tampered = flip_last_byte_of_image_data(sign(pki, grace_hopper_path, tmp_path / "made.jpg"))

    read = read_credentials(tampered, trusting)

    assert read["validation_state"] == "invalid"
    assert "assertion.dataHash.mismatch" in read["failures"]


def test_audio_credentials_are_read_too(pki, trusting, tmp_path):
    signed = sign(pki, tone_wav(tmp_path / "tone.wav"), tmp_path / "voice.wav")

    read = read_credentials(signed, trusting)

    assert read["validation_state"] == "trusted" and read["ai_generated"] is True


def test_a_file_in_the_content_store_without_its_extension_is_read_from_its_bytes(pki, trusting,
                                                                                 grace_hopper_path, tmp_path):
    stored = tmp_path / "0f" / "3a" / "0f3a9c"
    stored.parent.mkdir(parents=True)
    shutil.copy(sign(pki, grace_hopper_path, tmp_path / "made.jpg"), stored)

    assert read_credentials(stored, trusting)["validation_state"] == "trusted"


def test_a_signers_text_is_kept_printable_and_short(pki, grace_hopper_path, tmp_path):
    hostile = "Evil\x1b[2J\nGenerator " + "x" * 5000
    signed = sign(pki, grace_hopper_path, tmp_path / "made.jpg", generator=hostile, software_agent=hostile)

    read = read_credentials(signed, NO_ANCHORS)

    for text in (read["claim_generator"], read["actions"][0]["software_agent"]):
        assert text.isprintable() and len(text) <= 120 and "\x1b" not in text


@pytest.mark.parametrize("content", [b"", b"\x00" * 4096, b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8,
                                     b"RIFF\xff\xff\xff\xffWAVEfmt "])
def test_broken_or_foreign_bytes_read_as_none(content, tmp_path):
    path = tmp_path / "item.bin"
    path.write_bytes(content)

    assert read_credentials(path, NO_ANCHORS) is None


def test_a_truncated_signed_file_never_raises(pki, grace_hopper_path, tmp_path):
    signed = sign(pki, grace_hopper_path, tmp_path / "made.jpg")
    for keep in (0.02, 0.1, 0.5, 0.9):
        cut = tmp_path / f"cut-{keep}.jpg"
        data = signed.read_bytes()
        cut.write_bytes(data[: int(len(data) * keep)])
        read = read_credentials(cut, NO_ANCHORS)
        assert read is None or read["validation_state"] == "invalid"


def test_unusable_trust_anchors_are_one_line_naming_the_setting(tmp_path):
    not_pem = tmp_path / "anchors.pem"
    not_pem.write_text("just words\n")
    for settings in (CredentialsSettings(str(tmp_path / "missing.pem")), CredentialsSettings(str(not_pem))):
        with pytest.raises(TrustAnchorsError) as refused:
            credentials_version(settings)
        assert str(refused.value).startswith("credentials.trust_anchors ") and "\n" not in str(refused.value)


def test_the_trust_anchors_are_part_of_what_a_reading_depends_on(pki, trusting):
    assert credentials_version(NO_ANCHORS).endswith("anchors:none")
    assert credentials_version(trusting) != credentials_version(NO_ANCHORS)


@pytest.fixture(scope="module")
def signed_seeds(credentials_pki, grace_hopper_path, tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("seeds")
    return {suffix: sign(credentials_pki, source, folder / f"signed{suffix}").read_bytes()
            for suffix, source in ((".jpg", grace_hopper_path), (".wav", tone_wav(folder / "tone.wav")))}


@fuzz(60)
@given(data=st.data())
def test_any_mutation_of_a_signed_manifest_reads_as_none_or_a_bounded_reading(signed_seeds, tmp_path_factory, data):
    suffix = data.draw(st.sampled_from(sorted(signed_seeds)))
    content = bytearray(signed_seeds[suffix])
    manifest_at = content.find(b"jumb")  # the C2PA manifest store's JUMBF box: where a mutation says most
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(max(manifest_at - 64, 0), min(manifest_at + 4096, len(content) - 1)))
        content[at : at + 4] = data.draw(st.binary(min_size=1, max_size=4))
    path = tmp_path_factory.mktemp("fuzzed") / f"item{suffix}"
    path.write_bytes(bytes(content))

    read = read_credentials(path, NO_ANCHORS)

    if read is not None:
        assert read["validation_state"] in ("trusted", "valid", "invalid")
        texts = [read["signer"], read["claim_generator"], *read["failures"],
                 *(value for action in read["actions"] for value in action.values())]
        assert all(text is None or (text.isprintable() and len(text) <= 120) for text in texts)
