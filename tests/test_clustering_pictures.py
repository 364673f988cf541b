"""Review clustering that follows the picture, not the hash: re-hosted copies (turned,
mirrored, cropped, captioned) join their original's cluster, look-alike pictures never
share one, an item that shows a picture already decided arrives pre-decided with the
evidence, and the review app shows why each item was grouped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from lookalikes import lookalike_pairs
from rehost_edits import edit, originals
from synthetic import encoded

from catalog.decisions.records import ClusterCandidate, ClusterPlan, LocalFeatures
from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from classification import claim_next, cluster_queue, decide_cluster, grading
from classification.clusters import ClusteringConfig, plan_clusters
from hashing import hash_image, hash_stored_media
from hashing.local_features import extract, verify
from hashing.signals.pdq.signal import DIHEDRAL_NAMES
from hotline.demo.local_site import unused_port
from hotline.installation import Installation, clustering_config, review_config
from hotline.passwords import hash_password
from hotline.settings import Settings
from review.app import create_app
from review.server import running

EDITED = ("rot90", "mirror", "crop-5", "small-text", "rotate-3", "crop-15")
LOCAL = ClusteringConfig(verify=verify)
NOW = datetime(2026, 12, 7)


def _item(sha256: str, data: bytes) -> tuple[ClusterCandidate, LocalFeatures]:
    h = hash_image(data)
    usable = h.pdq_quality >= 50
    candidate = ClusterCandidate(sha256, "image", h.pdq if usable else None, NOW, None,
                                 tuple(zip(DIHEDRAL_NAMES, h.dihedral, strict=True)) if usable else ())
    return candidate, extract(sha256, data)


def _plan(pictures: list[tuple[str, bytes]], decided: list[tuple[str, bytes]] = ()  # type: ignore[assignment]
          ) -> list[ClusterPlan]:
    items, features = [], {}
    for sha, data in pictures:
        candidate, features[sha] = _item(sha, data)
        items.append(candidate)
    seen = []
    for sha, data in decided:
        candidate, features[sha] = _item(sha, data)
        seen.append((sha, candidate.signature))
    return plan_clusters(items, [], [s for s in seen if s[1]], LOCAL, features, [s for s, _ in decided])


def _groups(plans: list[ClusterPlan]) -> list[set[str]]:
    return [{s for s, _ in p.members} for p in plans]


def test_edited_copies_join_their_originals_cluster() -> None:
    pictures = []
    for n, (_, picture) in enumerate(originals(24)[::6]):  # two photographs, two synthetic pictures
        pictures.append((f"{n}:original", encoded(picture, "JPEG", quality=92)))
        pictures += [(f"{n}:{name}", edit(name).apply(picture)[0]) for name in EDITED]
    groups = _groups(_plan(pictures))
    assert sorted(sorted(g) for g in groups) == sorted(
        sorted(s for s, _ in pictures if s.startswith(f"{n}:")) for n in range(4))


def test_look_alike_pictures_never_join() -> None:
    for kind, one, other in lookalike_pairs(4):
        copies = [("one", encoded(one, "PNG")), ("one-crop", edit("crop-5").apply(one)[0]),
                  ("one-text", edit("small-text").apply(one)[0]), ("other", encoded(other, "PNG"))]
        groups = _groups(_plan(copies))
        assert not any("other" in g and len(g) > 1 for g in groups), (kind, groups)


def test_look_alike_pictures_never_join_through_a_mirror_a_thumbnail_a_caption_or_a_border() -> None:
    # two pictures of one site template, each given a border: the frame then holds keypoints
    # along two sides (at the picture's edge it held none) and their inliers met the
    # coverage checks, though nothing inside the frame agrees
    names = ("border-5", "mirror", "size-15", "large-text")
    for kind, one, other in lookalike_pairs(4):
        copies = [(f"one:{name}", edit(name).apply(one)[0]) for name in (*names, "copy")]
        copies += [(f"other:{name}", edit(name).apply(other)[0]) for name in names]
        groups = _groups(_plan(copies))
        assert not any(len({s.split(":")[0] for s in g}) > 1 for g in groups), (kind, groups)


def test_copies_join_a_cluster_a_mirrored_copy_founded() -> None:
    # keypoint descriptors do not survive a mirroring: the crops and the caption arrive
    # when the cluster's only face is the mirrored copy, and join through their mirror images
    pictures = []
    for n, (_, picture) in enumerate(originals(24)[1::20]):  # a photograph, a synthetic picture
        pictures += [(f"{n}:{name}", edit(name).apply(picture)[0]) for name in ("mirror", "crop-15", "small-text")]
    plans = _plan(pictures)
    assert sorted(sorted(g) for g in _groups(plans)) == [["0:crop-15", "0:mirror", "0:small-text"],
                                                          ["1:crop-15", "1:mirror", "1:small-text"]]
    why = {sha: e for p in plans for sha, e in p.evidence.items()}
    assert all(why[f"{n}:crop-15"]["stage"] == "local" and why[f"{n}:crop-15"]["variant"] == "mirror" for n in (0, 1))


def test_a_thumbnail_joins_its_original() -> None:
    # a copy downsized to 15% (77 to 96 pixels) is scaled up before its keypoints are taken
    pictures = []
    for n, (_, picture) in enumerate(originals(14)[7:14:2]):  # moon, text, gravel, horse: PDQ moves 20-90 bits
        pictures += [(f"{n}:copy", encoded(picture, "JPEG", quality=92)), (f"{n}:small", edit("size-15").apply(picture)[0])]
    assert sorted(sorted(g) for g in _groups(_plan(pictures))) == [[f"{n}:copy", f"{n}:small"] for n in range(4)]


def test_a_large_caption_box_is_left_out_of_the_keypoints() -> None:
    # the box's letters would take most keypoints, and match nothing of the original
    pictures = []
    for n, (_, picture) in enumerate(originals(23)[21:23]):
        pictures += [(f"{n}:copy", encoded(picture, "JPEG", quality=92)), (f"{n}:text", edit("large-text").apply(picture)[0])]
    assert sorted(sorted(g) for g in _groups(_plan(pictures))) == [["0:copy", "0:text"], ["1:copy", "1:text"]]


def test_a_shared_caption_does_not_make_the_same_picture() -> None:
    a, b = originals(30)[20][1], originals(30)[24][1]
    captioned = [(f"{n}", edit("large-text").apply(p)[0]) for n, p in enumerate((a, b))]
    assert len(_groups(_plan(captioned))) == 2


def test_an_item_showing_a_decided_picture_arrives_pre_decided_with_the_evidence() -> None:
    picture = originals(22)[21][1]
    decided = [("decided", encoded(picture, "JPEG", quality=92))]
    plans = _plan([("turned", edit("rot90").apply(picture)[0])], decided)
    assert plans[0].similar_to == "decided" and not plans[0].novel
    assert plans[0].similar_evidence is not None
    assert plans[0].similar_evidence["stage"] == "pdq" and plans[0].similar_evidence["variant"] != "original"
    # a crop PDQ does not find: the second stage does, with its inlier count
    crop = edit("crop-15").apply(picture)[0]
    assert hash_image(crop).pdq and _plan([("cropped", crop)], decided)[0].similar_evidence is not None
    evidence = _plan([("cropped", crop)], decided)[0].similar_evidence or {}
    assert evidence["stage"] in ("pdq", "local") and evidence["matched"] == "decided"
    unrelated = _plan([("other", encoded(originals(23)[22][1], "JPEG"))], decided)[0]
    assert unrelated.novel and unrelated.similar_to is None


# -- over an installation: the evidence store, the catalog, the review app -------------------
@pytest.fixture
def queued(tmp_path: Path) -> Iterator[tuple[Installation, list[str]]]:
    inst = Installation.init(Settings(data_dir=tmp_path / "data", country="XX"))
    picture = originals(21)[20][1]
    pictures = [encoded(picture, "JPEG", quality=92)] + [edit(n).apply(picture)[0] for n in ("rot90", "crop-15")]
    catalog = inst.catalog
    url = "http://gallery.test/"
    report = catalog.add_report(url, actor="test", source="test")
    media, seen = [], []
    for data in pictures:
        sha = inst.evidence.put(data)
        media.append(MediaRecord(sha, len(data), "image/jpeg", "image"))
        seen.append(SightingRecord(sha, f"{url}m/{sha[:12]}", url))
    catalog.record_crawl(report, CrawlResult(url=url, media=tuple(media), sightings=tuple(seen)))
    batch = hash_stored_media(inst.evidence.get, [m.sha256 for m in media], inst.media_config())
    catalog.record_hashes(batch.records, batch.frames)
    catalog.queue_unmatched([m.sha256 for m in media])
    yield inst, [m.sha256 for m in media]
    inst.close()


def test_the_queue_groups_by_the_pictures_and_keeps_why(queued: tuple[Installation, list[str]]) -> None:
    inst, (original, turned, cropped) = queued
    assert cluster_queue(inst.catalog, clustering_config(inst.settings, inst.evidence.get)) == 3
    cluster_id = inst.catalog.cluster_of(original)
    assert cluster_id is not None and inst.catalog.cluster_of(turned) == inst.catalog.cluster_of(cropped) == cluster_id
    why = inst.catalog.member_evidence(cluster_id)
    assert why[turned]["stage"] == "pdq" and why[turned]["variant"] != "original" and why[turned]["matched"] == original
    assert why[cropped]["stage"] in ("pdq", "local") and why[cropped]["matched"] in (original, turned)
    kept = inst.catalog.local_features([original, turned, cropped])
    assert set(kept) == {original, turned, cropped}
    for features in kept.values():  # compact records: positions and descriptors, no pixels
        assert len(features.descriptors) == 32 * features.count and len(features.points) == 4 * features.count


def test_the_cluster_page_shows_why_items_were_grouped(queued: tuple[Installation, list[str]]) -> None:
    inst, (original, turned, _) = queued
    cluster_queue(inst.catalog, clustering_config(inst.settings, inst.evidence.get))
    cluster_id = inst.catalog.cluster_of(original)
    inst.catalog.add_user("admin1", "admin", hash_password("correct horse 1"), actor="system")
    inst.catalog.add_user("analyst1", "analyst", hash_password("correct horse 1"), actor="admin1")
    with running(create_app(inst), unused_port()) as url:
        client = httpx.Client(base_url=url, follow_redirects=True, timeout=60)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"name": "analyst1", "password": "correct horse 1", "csrf": token})
        page = client.get(f"/cluster/{cluster_id}").text
    grouped = re.search(rf'id="item-{turned}".*?grouped: ([^<]*)<', page, re.S)
    assert grouped is not None and "PDQ distance" in grouped.group(1) and original[:12] in grouped.group(1)
    assert "variant" in grouped.group(1)


def test_a_copy_of_a_decided_picture_arrives_pre_decided_with_its_grading(
        queued: tuple[Installation, list[str]]) -> None:
    inst, items = queued
    catalog = inst.catalog
    config = review_config(inst.settings, inst.evidence.get)
    cluster_queue(catalog, config.clustering)
    catalog.add_user("admin1", "admin", hash_password("correct horse 1"), actor="system")
    catalog.add_user("analyst1", "analyst", hash_password("correct horse 1"), actor="admin1")
    first = claim_next(catalog, config, "analyst1")
    assert first is not None
    decide_cluster(catalog, config, first, "analyst1", grading(age_group="adult", depiction="drawn"))
    # the same picture re-hosted again, captioned: no PDQ match to the decided copies
    picture = originals(21)[20][1]
    data = edit("small-text").apply(picture)[0]
    url = "http://other.test/"
    report = catalog.add_report(url, actor="test", source="test")
    sha = inst.evidence.put(data)
    catalog.record_crawl(report, CrawlResult(url=url, media=(MediaRecord(sha, len(data), "image/jpeg", "image"),),
                                             sightings=(SightingRecord(sha, f"{url}m/1", url),)))
    batch = hash_stored_media(inst.evidence.get, [sha], inst.media_config())
    catalog.record_hashes(batch.records, batch.frames)
    catalog.queue_unmatched([sha])
    cluster_queue(catalog, config.clustering)
    cluster_id = catalog.cluster_of(sha)
    assert cluster_id is not None
    cluster = catalog.cluster(cluster_id)
    assert not cluster.novel and cluster.similar_to in items and cluster.similar_evidence
    claim_next(catalog, config, "analyst1", cluster_id)
    with running(create_app(inst), unused_port()) as url:
        client = httpx.Client(base_url=url, follow_redirects=True, timeout=60)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"name": "analyst1", "password": "correct horse 1", "csrf": token})
        page = client.get(f"/cluster/{cluster_id}").text
    assert 'id="similar-evidence"' in page and cluster.similar_to[:12] in page  # type: ignore[index]
    assert re.search(r'name="depiction" value="drawn" required checked', page)
    assert re.search(r'name="age_group" value="adult" required checked', page)
