"""Bundles: round trips, refusals, the documented layout and test vectors, keys, the drop."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import struct
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from exports import (
    BundleError,
    BundleNotForUs,
    BundleTampered,
    BundleTruncated,
    DeliveryConflict,
    DeliveryError,
    KeyFileError,
    LocalDirectoryDrop,
    UnknownSender,
    UnsupportedBundle,
    fingerprint,
    iter_bundle_media,
    key_files,
    open_bundle,
    write_bundle,
)
from exports import format as fmt
from exports.bundle import MAX_MANIFEST_SIZE, EncodedArray, encode_manifest
from exports.key_files import raw_public_bytes

MEDIA = [
    (hashlib.sha256(b).hexdigest(), b)
    for b in (
        b"synthetic image 1",
        b"synthetic image 2" * 40,
        b"synthetic video 3" * 200,
    )
]
MANIFEST = {
    "hotline": "XX-TEST",
    "items": [sha for sha, _ in MEDIA],
    "note": "benign test data",
}


@pytest.fixture(scope="module")
def sender() -> Ed25519PrivateKey:
    return key_files.generate_signing_key()


@pytest.fixture(scope="module")
def alice() -> X25519PrivateKey:
    return key_files.generate_encryption_key()


@pytest.fixture(scope="module")
def bob() -> X25519PrivateKey:
    return key_files.generate_encryption_key()


def make(sender, recipients, media=MEDIA, chunk_size=fmt.DEFAULT_CHUNK_SIZE) -> bytes:
    out = io.BytesIO()
    write_bundle(
        out,
        MANIFEST,
        media,
        sender=sender,
        recipients=[r.public_key() for r in recipients],
        chunk_size=chunk_size,
    )
    return out.getvalue()


def records(data: bytes) -> tuple[int, list[tuple[int, int, int]], int]:
    """Walk the documented layout: (header end, [(record offset, flag, ct length)], signature offset)."""
    _, _, hlen = struct.unpack(">8sHI", data[:14])
    pos = end = 14 + hlen
    recs = []
    while True:
        flag, n = struct.unpack(">BI", data[pos : pos + 5])
        recs.append((pos, flag, n))
        pos += 5 + n
        if flag == 1:
            return end, recs, pos


def opened(data: bytes, key: X25519PrivateKey, **kw):
    return open_bundle(io.BytesIO(data), recipient=key, **kw)


def media_of(data: bytes, key: X25519PrivateKey, **kw):
    return list(iter_bundle_media(io.BytesIO(data), recipient=key, **kw))


# --- round trips -------------------------------------------------------------------------


def test_round_trip_one_recipient(sender, alice):
    out = io.BytesIO()
    info = write_bundle(
        out, MANIFEST, MEDIA, sender=sender, recipients=[alice.public_key()]
    )
    data = out.getvalue()
    assert info.size == len(data) and info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.item_count == 3
    assert info.recipient_fingerprints == (fingerprint(alice.public_key()),)
    assert info.sender_fingerprint == fingerprint(sender.public_key())

    got = opened(data, alice)
    assert (
        got.bundle_id == info.bundle_id
        and got.sha256 == info.sha256
        and got.size == info.size
    )
    assert got.manifest == {
        **MANIFEST,
        "bundle_id": info.bundle_id,
        "format": "hotline-bundle/1",
    }
    assert got.sender_fingerprint == info.sender_fingerprint
    assert media_of(data, alice) == MEDIA
    assert "bundle_id" not in MANIFEST  # the caller's dict is not mutated


def test_a_manifest_array_given_encoded_is_written_byte_for_byte_as_the_list(sender, alice):
    """A writer may hold a large array of the manifest encoded, an element at a time: the
    manifest member's bytes are those of the whole manifest dumped with the list in place."""
    entries = [{"sha256": sha, "note": "line\nbreak \u00e9", "sightings": [{"url": "http://x.test/"}], "n": []}
               for sha, _ in MEDIA]
    for value in (entries, entries[:1], []):
        encoded = EncodedArray()
        for entry in value:
            encoded.append(entry)
        bundle_id = "ab" * 16
        plain = json.dumps({**MANIFEST, "items": value, "empty": {}, "bundle_id": bundle_id,
                            "format": "hotline-bundle/1"}, sort_keys=True, indent=2).encode()
        out = io.BytesIO()
        write_bundle(out, {**MANIFEST, "items": encoded, "empty": {}}, MEDIA, sender=sender,
                     recipients=[alice.public_key()], bundle_id=bundle_id)
        assert b"".join(encode_manifest({**MANIFEST, "items": encoded, "empty": {}, "bundle_id": bundle_id,
                                         "format": "hotline-bundle/1"})) == plain
        assert opened(out.getvalue(), alice).manifest["items"] == value


def test_two_recipients_each_can_open(sender, alice, bob):
    data = make(sender, [alice, bob])
    for key in (alice, bob):
        assert opened(data, key).manifest["hotline"] == "XX-TEST"
        assert media_of(data, key, trusted_senders=[sender.public_key()]) == MEDIA


def test_many_chunks_round_trip(sender, alice):
    media = [
        (hashlib.sha256(b).hexdigest(), b)
        for b in (b"synthetic %d " % i * 90 for i in range(4))
    ]
    data = make(sender, [alice], media, chunk_size=64)
    _, recs, _ = records(data)
    assert len(recs) > 100
    assert all(n == 64 + 16 for _, flag, n in recs[:-1]) and recs[-1][1] == 1
    assert media_of(data, alice) == media


def test_manifest_only_open_decrypts_only_the_first_chunks(sender, alice, monkeypatch):
    data = make(sender, [alice], chunk_size=64)
    calls = []
    real = fmt.open_chunk
    monkeypatch.setattr(fmt, "open_chunk", lambda *a: calls.append(a[3]) or real(*a))
    opened(data, alice)
    assert 0 < len(calls) < len(records(data)[1]) // 4


def test_writes_to_a_non_seekable_stream(sender, alice):
    class Pipe:
        def __init__(self):
            self.parts = []

        def write(self, b):
            self.parts.append(bytes(b))
            return len(b)

    pipe = Pipe()
    info = write_bundle(pipe, {}, MEDIA, sender=sender, recipients=[alice.public_key()])
    data = b"".join(pipe.parts)
    assert info.size == len(data) and media_of(data, alice) == MEDIA


def test_no_plaintext_in_the_file(sender, alice, bob):
    for chunk_size in (64, fmt.DEFAULT_CHUNK_SIZE):
        data = make(sender, [alice, bob], chunk_size=chunk_size)
        for _, content in MEDIA:
            assert content[:16] not in data
        assert (
            b"synthetic" not in data
            and b"XX-TEST" not in data
            and b"manifest.json" not in data
        )


# --- refusals ----------------------------------------------------------------------------


def flip(data: bytes, pos: int) -> bytes:
    b = bytearray(data)
    b[pos] ^= 0x01
    return bytes(b)


def test_flipped_ciphertext_and_signature_bytes_are_tampered(sender, alice):
    data = make(sender, [alice], chunk_size=64)
    _, recs, sig = records(data)
    mid_off, _, mid_len = recs[len(recs) // 2]
    last_off, _, last_len = recs[-1]
    positions = {
        "first chunk": recs[0][0] + 5,
        "middle chunk": mid_off + 5 + mid_len // 2,
        "middle chunk tag": mid_off + 5 + mid_len - 1,
        "last chunk": last_off + 5,
        "last chunk tag": last_off + 5 + last_len - 1,
        "signature start": sig,
        "signature end": len(data) - 1,
    }
    for where, pos in positions.items():
        with pytest.raises(BundleTampered) as err:
            opened(flip(data, pos), alice)
        assert str(err.value), where
        with pytest.raises(BundleTampered):
            iter_bundle_media(io.BytesIO(flip(data, pos)), recipient=alice)


def test_flipped_header_bytes_are_refused(sender, alice):
    data = make(sender, [alice])
    end, _, _ = records(data)
    header = data[14:end].decode()
    for pos in (
        0,
        9,
        13,
        14,
        14 + header.index("chunk_size") + 12,
        14 + header.index("wrapped_key") + 20,
        14 + header.index("public_key") + 20,
        end - 1,
    ):
        with pytest.raises(BundleError) as err:
            opened(flip(data, pos), alice)
        assert len(str(err.value)) > 20
    with pytest.raises(UnsupportedBundle, match="magic"):
        opened(flip(data, 0), alice)
    with pytest.raises(UnsupportedBundle, match="version"):
        opened(flip(data, 9), alice)
    # parses fine, but is not what was signed
    with pytest.raises(BundleTampered, match="signature"):
        opened(flip(data, 14 + header.index("wrapped_key") + 20), alice)


def test_no_single_byte_flip_is_accepted(sender, alice):
    data = make(sender, [alice], chunk_size=256)
    for pos in range(0, len(data), 7):
        with pytest.raises(BundleError):
            opened(flip(data, pos), alice)


def test_truncated_files_are_refused(sender, alice):
    data = make(sender, [alice], chunk_size=64)
    end, recs, sig = records(data)
    cuts = [
        0,
        3,
        13,
        14,
        end // 2,
        end,
        end + 3,
        recs[1][0],
        recs[5][0] + 40,
        recs[-1][0],
        recs[-1][0] + 5,
        sig,
        sig + 30,
        len(data) - 1,
    ]
    for cut in cuts:
        with pytest.raises(BundleTruncated) as err:
            opened(data[:cut], alice)
        assert "ends" in str(err.value)
    for cut in range(0, len(data), 13):
        with pytest.raises(BundleTruncated):
            opened(data[:cut], alice)


def test_trailing_data_is_refused(sender, alice):
    with pytest.raises(BundleTampered, match="after its signature"):
        opened(make(sender, [alice]) + b"\0", alice)


def test_not_a_bundle(alice):
    with pytest.raises(UnsupportedBundle, match="magic"):
        opened(b"PK\x03\x04 this is a zip file, not a bundle", alice)
    with pytest.raises(UnsupportedBundle):
        opened(b"GIF", alice)


def test_wrong_recipient(sender, alice, bob):
    data = make(sender, [alice])
    with pytest.raises(BundleNotForUs, match=fingerprint(bob.public_key())):
        opened(data, bob)
    with pytest.raises(BundleNotForUs):
        iter_bundle_media(io.BytesIO(data), recipient=bob)


def test_untrusted_sender(sender, alice):
    data = make(sender, [alice])
    other = key_files.generate_signing_key()
    with pytest.raises(UnknownSender, match=fingerprint(sender.public_key())):
        opened(data, alice, trusted_senders=[other.public_key()])
    with pytest.raises(UnknownSender):
        opened(data, alice, trusted_senders=[])
    assert opened(
        data, alice, trusted_senders=[other.public_key(), sender.public_key()]
    )


def resign(data: bytes, sender: Ed25519PrivateKey, body: bytes) -> bytes:
    return body + sender.sign(fmt.signature_message(hashlib.sha256(body).digest()))


def test_chunks_cannot_be_reordered_or_dropped_even_by_the_signer(sender, alice):
    """The AAD (header hash, index, final flag) protects order and completeness by itself."""
    data = make(sender, [alice], chunk_size=64)
    end, recs, _ = records(data)
    rec = [data[o : o + 5 + n] for o, _, n in recs]
    swapped = resign(data, sender, data[:end] + rec[1] + rec[0] + b"".join(rec[2:]))
    with pytest.raises(BundleTampered, match="chunk 0"):
        media_of(swapped, alice)
    # promote the next-to-last chunk to final and drop the real final one
    cut = rec[-2][:1].replace(b"\x00", b"\x01") + rec[-2][1:]
    dropped = resign(data, sender, data[:end] + b"".join(rec[:-2]) + cut)
    with pytest.raises(BundleTampered, match="failed authentication"):
        media_of(dropped, alice)


def test_file_changed_between_verify_and_decrypt(sender, alice):
    data = make(sender, [alice], chunk_size=64)
    _, recs, _ = records(data)

    class Swapping(io.BytesIO):
        seeks = 0

        def seek(self, *a):
            self.seeks += 1
            if self.seeks == 2:  # pass 2 starts: an attacker rewrites a chunk
                self.getbuffer()[recs[0][0] + 6] ^= 1
            return super().seek(*a)

    src = Swapping(data)
    src.seek(0)
    with pytest.raises(BundleTampered, match="changed after the signature"):
        open_bundle(src, recipient=alice)


def test_write_checks_its_inputs(sender, alice):
    pk = [alice.public_key()]
    with pytest.raises(ValueError, match="hashes to"):
        write_bundle(
            io.BytesIO(),
            {},
            [("0" * 64, b"synthetic image 1")],
            sender=sender,
            recipients=pk,
        )
    with pytest.raises(ValueError, match="SHA-256"):
        write_bundle(io.BytesIO(), {}, [("abc", b"x")], sender=sender, recipients=pk)
    with pytest.raises(ValueError, match="twice"):
        write_bundle(
            io.BytesIO(), {}, [MEDIA[0], MEDIA[0]], sender=sender, recipients=pk
        )
    with pytest.raises(ValueError, match="bundle_id"):
        write_bundle(io.BytesIO(), {"bundle_id": "x"}, [], sender=sender, recipients=pk)
    with pytest.raises(ValueError, match="recipient"):
        write_bundle(io.BytesIO(), {}, [], sender=sender, recipients=[])
    with pytest.raises(ValueError, match="duplicate"):
        write_bundle(io.BytesIO(), {}, [], sender=sender, recipients=pk * 2)
    with pytest.raises(ValueError, match="chunk_size"):
        write_bundle(io.BytesIO(), {}, [], sender=sender, recipients=pk, chunk_size=8)


def test_a_manifest_every_reader_would_refuse_is_not_written(sender, alice):
    out = io.BytesIO()
    with pytest.raises(ValueError, match="readers accept"):
        write_bundle(out, {"note": "x" * MAX_MANIFEST_SIZE}, [], sender=sender, recipients=[alice.public_key()])
    assert out.getvalue() == b""


def test_an_interrupted_write_leaves_a_truncated_bundle(sender, alice):
    out = io.BytesIO()
    with pytest.raises(ValueError):
        write_bundle(
            out,
            {},
            [MEDIA[0], ("f" * 64, b"synthetic image 2")],
            sender=sender,
            recipients=[alice.public_key()],
            chunk_size=64,
        )
    with pytest.raises(BundleTruncated):
        opened(out.getvalue(), alice)


# --- the documented layout and test vectors (docs/bundle-format.md) -----------------------


def test_header_matches_the_documented_layout(sender, alice, bob):
    data = make(sender, [alice, bob])
    magic, version, hlen = struct.unpack(">8sHI", data[:14])
    assert (magic, version) == (b"HLBUNDLE", 1)
    header = json.loads(data[14 : 14 + hlen])
    assert header["sender"]["public_key"] and header["sender"][
        "fingerprint"
    ] == fingerprint(sender.public_key())
    assert [r["fingerprint"] for r in header["recipients"]] == [
        fingerprint(alice.public_key()),
        fingerprint(bob.public_key()),
    ]
    assert len(bytes.fromhex(header["bundle_id"])) == 16
    _, _, sig = records(data)
    assert len(data) - sig == 64
    sender.public_key().verify(
        data[sig:],
        b"hotline-bundle/v1 signature\x00" + hashlib.sha256(data[:sig]).digest(),
    )


VEC_RECIPIENT = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
VEC_EPHEMERAL = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
VEC_BUNDLE_ID = "00112233445566778899aabbccddeeff"
VEC_WRAP_KEY = "259000cc15d5f7e3fce9195da316b8979aa725e1ca1b77fe16f4d760319d0acf"
VEC_WRAPPED = "78bf583865fd9a786e69e2f0c2f423d8decf8cd3d7b70f90581dd428117cfbf27bcfde915ebe90564f91e53ae8547cdd"
VEC_CHUNK0 = "522cb3297ff40c1898c7fed6d1a7d24ec135b9d788f9eb3014e5f905ae645e3378"
VEC_CHUNK1 = "a288a94a73221eaa6b19801fbadcd7e741f257a19fda4ea4bde617822ddf781a91"
VEC_SIGNER = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
VEC_SIGNATURE = (
    "8bdd228a90d78bce36a6ef8f0f5bf0882a14fd38f5bbfb9df93429649d2abebc"
    "b276883a69bcafe456a3af6b596c14c499f9d086c25137df42c9abf821a0d30b"
)


def test_key_wrap_vector():
    recipient = X25519PrivateKey.from_private_bytes(bytes.fromhex(VEC_RECIPIENT))
    eph = X25519PrivateKey.from_private_bytes(bytes.fromhex(VEC_EPHEMERAL))
    eph_pub, rcp_pub = (
        raw_public_bytes(eph.public_key()),
        raw_public_bytes(recipient.public_key()),
    )
    shared = eph.exchange(recipient.public_key())
    assert shared.hex().startswith("4a5d9d5b")  # RFC 7748 section 6.1
    wrap_key = HKDF(
        hashes.SHA256(), 32, salt=eph_pub + rcp_pub, info=b"hotline-bundle/v1 key-wrap"
    ).derive(shared)
    assert wrap_key.hex() == VEC_WRAP_KEY
    content_key = bytes(range(32))
    assert (
        AESGCM(wrap_key).encrypt(bytes(12), content_key, VEC_BUNDLE_ID.encode()).hex()
        == VEC_WRAPPED
    )
    entry = fmt.wrap_content_key(
        content_key, recipient.public_key(), VEC_BUNDLE_ID, ephemeral=eph
    )
    assert (
        entry.wrapped_key.hex() == VEC_WRAPPED
        and entry.fingerprint == "300c9c9603b92a4b"
    )
    assert fmt.unwrap_content_key(entry, recipient, VEC_BUNDLE_ID) == content_key


def test_chunk_and_signature_vectors():
    key, prefix = bytes(range(32)), bytes.fromhex("01020304")
    hh = hashlib.sha256(b"hotline example header").digest()
    for index, final, plain, want in (
        (0, False, b"synthetic image 1", VEC_CHUNK0),
        (1, True, b"synthetic image 2", VEC_CHUNK1),
    ):
        nonce = prefix + index.to_bytes(8, "big")
        aad = (
            b"hotline-bundle/v1 chunk\x00"
            + hh
            + index.to_bytes(8, "big")
            + bytes([final])
        )
        assert AESGCM(key).encrypt(nonce, plain, aad).hex() == want
        assert (
            fmt.seal_chunk(AESGCM(key), prefix, hh, index, final, plain).hex() == want
        )
    signer = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VEC_SIGNER))
    digest = hashlib.sha256(b"hotline example signed bytes").digest()
    assert (
        signer.sign(b"hotline-bundle/v1 signature\x00" + digest).hex() == VEC_SIGNATURE
    )
    assert fingerprint(signer.public_key()) == "21fe31dfa154a261"


def test_vectors_are_in_the_doc():
    doc = (Path(__file__).parent.parent / "docs" / "bundle-format.md").read_text()
    for value in (
        VEC_WRAP_KEY,
        VEC_WRAPPED,
        VEC_CHUNK0,
        VEC_CHUNK1,
        VEC_SIGNATURE[:64],
        VEC_SIGNATURE[64:],
    ):
        assert value in doc


# --- keys --------------------------------------------------------------------------------


def test_key_files_round_trip(tmp_path):
    sk, ek = key_files.generate_signing_key(), key_files.generate_encryption_key()
    key_files.save_private_key(tmp_path / "sign.pem", sk)
    key_files.save_private_key(tmp_path / "enc.pem", ek)
    key_files.save_public_key(tmp_path / "sign.pub.pem", sk.public_key())
    key_files.save_public_key(tmp_path / "enc.pub.pem", ek.public_key())
    assert stat.S_IMODE((tmp_path / "sign.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "enc.pem").stat().st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in (tmp_path / "sign.pem").read_bytes()
    assert b"BEGIN PUBLIC KEY" in (tmp_path / "enc.pub.pem").read_bytes()

    fp = fingerprint
    assert fp(key_files.load_ed25519_private_key(tmp_path / "sign.pem").public_key()) == fp(
        sk.public_key()
    )
    assert fp(key_files.load_x25519_private_key(tmp_path / "enc.pem").public_key()) == fp(
        ek.public_key()
    )
    assert fp(key_files.load_ed25519_public_key(tmp_path / "sign.pub.pem")) == fp(
        sk.public_key()
    )
    assert fp(key_files.load_x25519_public_key(tmp_path / "enc.pub.pem")) == fp(
        ek.public_key()
    )
    assert (
        fp(ek.public_key())
        == hashlib.sha256(raw_public_bytes(ek.public_key())).hexdigest()[:16]
    )


def test_key_files_refusals(tmp_path):
    sk = key_files.generate_signing_key()
    path = tmp_path / "sign.pem"
    key_files.save_private_key(path, sk)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        key_files.save_private_key(path, key_files.generate_signing_key())
    with pytest.raises(KeyFileError, match="already exists"):
        key_files.save_public_key(path, sk.public_key())
    assert path.read_bytes() == before

    with pytest.raises(KeyFileError, match=r"missing\.pem.*does not exist"):
        key_files.load_ed25519_private_key(tmp_path / "missing.pem")
    with pytest.raises(
        KeyFileError, match="holds a Ed25519 private key, expected a X25519 private key"
    ):
        key_files.load_x25519_private_key(path)
    with pytest.raises(KeyFileError, match="does not hold a PEM public key"):
        key_files.load_ed25519_public_key(path)
    key_files.save_public_key(
        tmp_path / "enc.pub.pem", key_files.generate_encryption_key().public_key()
    )
    with pytest.raises(
        KeyFileError,
        match="enc.pub.pem.*X25519 public key, expected a Ed25519 public key",
    ):
        key_files.load_ed25519_public_key(tmp_path / "enc.pub.pem")
    (tmp_path / "junk.pem").write_bytes(b"not a key")
    with pytest.raises(KeyFileError, match="junk.pem"):
        key_files.load_ed25519_private_key(tmp_path / "junk.pem")


# --- destinations ------------------------------------------------------------------------


@pytest.fixture()
def bundle_file(tmp_path, sender, alice) -> Path:
    path = tmp_path / "out" / "b.hlb"
    path.parent.mkdir()
    path.write_bytes(make(sender, [alice]))
    return path


def test_local_drop_delivers_atomically_and_idempotently(tmp_path, bundle_file):
    root = tmp_path / "drop"
    root.mkdir()
    drop = LocalDirectoryDrop(root)
    assert not drop.exists("b1.hlb")
    where = drop.deliver(bundle_file, "b1.hlb")
    assert where == str(root / "b1.hlb") and drop.exists("b1.hlb")
    assert (root / "b1.hlb").read_bytes() == bundle_file.read_bytes()
    # a copy: the caller decides when to remove the original
    assert bundle_file.exists()
    mtime = (root / "b1.hlb").stat().st_mtime_ns
    assert drop.deliver(bundle_file, "b1.hlb") == where
    assert (root / "b1.hlb").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in root.iterdir()) == ["b1.hlb"]

    other = tmp_path / "other.hlb"
    data = bundle_file.read_bytes()
    other.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # another last byte, whatever it was
    with pytest.raises(DeliveryConflict, match="b1.hlb"):
        drop.deliver(other, "b1.hlb")


def test_local_drop_leaves_nothing_behind_on_failure(
    tmp_path, bundle_file, monkeypatch
):
    root = tmp_path / "drop"
    root.mkdir()

    def boom(*a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        LocalDirectoryDrop(root).deliver(bundle_file, "b1.hlb")
    assert list(root.iterdir()) == []


def test_local_drop_refusals(tmp_path, bundle_file):
    root = tmp_path / "drop"
    with pytest.raises(DeliveryError, match="does not exist"):
        LocalDirectoryDrop(root).deliver(bundle_file, "b1.hlb")
    root.mkdir()
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"synthetic image 1")
    with pytest.raises(DeliveryError, match="not a bundle"):
        LocalDirectoryDrop(root).deliver(plain, "b1.hlb")
    for bad in ("", ".hidden", "../escape", "a/b"):
        with pytest.raises(ValueError):
            LocalDirectoryDrop(root).deliver(bundle_file, bad)
    assert list(root.iterdir()) == []


def test_tar_stream_is_byte_for_byte_what_tarfile_writes():
    from exports.bundle import _TarWriter

    members = [("manifest.json", b"{}"), ("media/" + "a" * 64, b"x" * 1000), ("files/" + "n" * 120, b"y" * 513)]

    class Sink:
        def __init__(self):
            self.data = bytearray()

        def write(self, b):
            self.data += b
            return len(b)

    ours = Sink()
    writer = _TarWriter(ours, 1_700_000_000)
    for name, data in members:
        writer.add(name, data)
    writer.close()
    theirs = io.BytesIO()
    with tarfile.open(fileobj=theirs, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    assert bytes(ours.data) == theirs.getvalue()


@pytest.mark.parametrize("sizes", [[1], [64], [65], [63, 1], [64, 64, 64], [200, 1, 1, 300], [7] * 40])
def test_chunk_writer_cuts_any_write_pattern_into_full_chunks(sizes):
    from exports.chunks import ChunkWriter

    key, prefix, hdr = bytes(32), b"\x00\x01\x02\x03", bytes(32)
    out = io.BytesIO()
    writer = ChunkWriter(out, key=key, nonce_prefix=prefix, hdr_hash=hdr, chunk_size=64)
    plain = os.urandom(sum(sizes))
    pos = 0
    for n in sizes:
        writer.write(plain[pos : pos + n])
        pos += n
    count = writer.finish()
    assert count == -(-len(plain) // 64)
    data, got, aead = out.getvalue(), bytearray(), AESGCM(key)
    for i in range(count):
        flag, n = struct.unpack(">BI", data[:5])
        assert flag == (i == count - 1) and (n == 80 or flag)
        got += fmt.open_chunk(aead, prefix, hdr, i, bool(flag), data[5 : 5 + n])
        data = data[5 + n :]
    assert bytes(got) == plain and data == b""
