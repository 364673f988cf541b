"""The review app over HTTP (uvicorn on 127.0.0.1): logins and roles, a statistician's 403 on
every media URL, CSRF, session expiry, blurred greyscale thumbnails, reveals that are
audited and granted per user, video strips, and no plaintext media on disk."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from people import hotline_cli
from PIL import Image, ImageFilter

from catalog.schema import web_sessions
from classification import decide_item, grading
from hotline.demo.local_site import unused_port
from hotline.installation import Installation, review_config
from hotline.passwords import hash_password, verify_password
from hotline.settings import Settings
from review.app import create_app
from review.sample_queue import seed_queue
from review.server import running

PASSWORD = "correct horse battery"
ROLES = ("analyst", "senior", "operator", "statistician", "admin")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Installation, str, list[list[str]]]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("review") / "data", country="XX", review_reveal_budget=3)
    inst = Installation.init(settings)
    groups = seed_queue(inst, [3, 1], videos=1, known=2)
    inst.catalog.add_user("admin1", "admin", hash_password(PASSWORD), actor="system")  # the first admin
    for role in ROLES[:-1]:
        inst.catalog.add_user(f"{role}1", role, hash_password(PASSWORD), actor="admin1")
    app = create_app(inst)
    with running(app, unused_port()) as url:
        yield inst, url, groups
    inst.close()


def _login(url: str, name: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, follow_redirects=True, timeout=30)
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    page = client.post("/login", data={"name": name, "password": password, "csrf": token})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    return client, csrf.group(1) if csrf else ""


def test_passwords_use_a_slow_salted_hash() -> None:
    one, two = hash_password(PASSWORD), hash_password(PASSWORD)
    assert one.startswith("$argon2id$") and one != two
    assert verify_password(one, PASSWORD) and not verify_password(one, PASSWORD + "!")
    assert not verify_password(None, PASSWORD)
    with pytest.raises(ValueError):
        hash_password("short")


def test_every_role_lands_on_its_page_and_only_reviewers_see_media(site) -> None:  # type: ignore[no-untyped-def]
    inst, url, groups = site
    sha = groups[0][0]
    media_routes = [r.path for r in create_app(inst).routes if getattr(r, "path", "").startswith("/media/")]
    assert len(media_routes) == 3
    for role in ROLES:
        client, csrf = _login(url, f"{role}1")
        landing = client.get("/")
        assert landing.status_code == 200
        media_ok = role in ("analyst", "senior")
        for path in media_routes:
            for item in (sha, "0" * 64):
                target = path.replace("{sha256}", item)
                response = (client.post(target, headers={"x-csrf-token": csrf}) if path.endswith("/reveal")
                            else client.get(target, params={"grant": "x"}))
                if not media_ok:
                    assert response.status_code == 403, (role, target)
                    assert not response.headers["content-type"].startswith("image/")
        if not media_ok:
            assert "/media/" not in landing.text and "<img" not in landing.text
            for page in ("/queue", "/cluster/1", f"/item/{sha}", "/confirmations"):
                assert client.get(page).status_code == 403, (role, page)
        else:
            assert client.get(f"/media/{sha}/thumb").headers["content-type"] == "image/jpeg"
        client.close()


def test_login_needs_the_right_password_and_forms_need_the_csrf_token(site) -> None:  # type: ignore[no-untyped-def]
    inst, url, _ = site
    client, _ = _login(url, "analyst1", "wrong password!")
    assert client.get("/queue").url.path == "/login"
    failed = [e for e in inst.catalog.audit_entries(action="user.login_failed")]
    assert failed and failed[0].subject == "analyst1"
    bare = httpx.Client(base_url=url)
    assert bare.post("/login", data={"name": "analyst1", "password": PASSWORD, "csrf": "x"}).status_code == 403
    client, csrf = _login(url, "analyst1")
    assert client.post("/queue/next", data={}).status_code == 403
    assert client.post("/queue/next", data={"csrf": "forged"}).status_code == 403
    claimed = client.post("/queue/next", data={"csrf": csrf}).url.path
    assert claimed.startswith("/cluster/")
    page = client.get("/queue")
    assert page.headers["cache-control"] == "no-store" and "script-src 'self'" in page.headers["content-security-policy"]
    client.post(f"{claimed}/release", data={"csrf": csrf})
    assert inst.catalog.lease_holder(int(claimed.rsplit("/", 1)[1])) is None


def test_sessions_end_when_idle_or_logged_out(site) -> None:  # type: ignore[no-untyped-def]
    inst, url, _ = site
    client, csrf = _login(url, "senior1")
    assert client.get("/queue").url.path == "/queue"
    with inst.catalog.write() as conn:  # as if 31 minutes had passed without a request
        conn.execute(web_sessions.update().where(web_sessions.c.user_name == "senior1")
                     .values(last_seen_at=sa.func.datetime("now", "-31 minutes")))
    assert client.get("/queue").url.path == "/login"
    client, csrf = _login(url, "senior1")
    client.post("/logout", data={"csrf": csrf})
    assert client.get("/queue").url.path == "/login"
    assert "user.logout" in [e.action for e in inst.catalog.audit_entries()]


def _detail(img: Image.Image) -> float:
    """Mean change when blurred a little more: high for a sharp picture, near 0 for a blurred one."""
    grey = img.convert("L")
    return float(np.abs(np.asarray(grey, dtype=np.float32)
                        - np.asarray(grey.filter(ImageFilter.GaussianBlur(2)), dtype=np.float32)).mean())


def test_thumbnails_are_blurred_grey_and_clear_only_after_an_audited_reveal(site) -> None:  # type: ignore[no-untyped-def]
    inst, url, groups = site
    client, csrf = _login(url, "analyst1")
    sha = groups[0][0]
    thumb = Image.open(io.BytesIO(client.get(f"/media/{sha}/thumb").content))
    original = Image.open(io.BytesIO(inst.evidence.get(sha)))
    original.thumbnail(thumb.size)
    assert thumb.mode == "L" and _detail(thumb) < _detail(original) / 4
    assert client.get(f"/media/{sha}/clear").status_code == 403
    # an analyst reveals only items of the cluster they hold
    assert client.post(f"/media/{sha}/reveal", headers={"x-csrf-token": csrf}).status_code == 403
    cluster_id = inst.catalog.cluster_of(sha)
    client.post(f"/cluster/{cluster_id}/claim", data={"csrf": csrf})
    fragment = client.post(f"/media/{sha}/reveal", headers={"x-csrf-token": csrf, "hx-request": "true"})
    assert fragment.status_code == 200 and "Revealed today: 1 / 3" in fragment.text
    clear_url = re.search(r'src="([^"]+)"', fragment.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    clear = client.get(clear_url)
    assert clear.status_code == 200 and Image.open(io.BytesIO(clear.content)).mode == "RGB"
    other, _ = _login(url, "senior1")
    assert other.get(clear_url).status_code == 403  # a grant is for the one who revealed
    entry = inst.catalog.audit_entries(action="media.reveal")[0]
    assert (entry.actor, entry.subject, entry.detail["cluster"]) == ("analyst1", sha, cluster_id)
    client.post(f"/cluster/{cluster_id}/release", data={"csrf": csrf})


def test_a_video_shows_as_a_silent_strip_of_frames(site) -> None:  # type: ignore[no-untyped-def]
    _, url, groups = site
    client, _ = _login(url, "analyst1")
    strip = Image.open(io.BytesIO(client.get(f"/media/{groups[-1][0]}/thumb").content))
    assert strip.mode == "L" and strip.width > 4 * strip.height  # six frames side by side


def test_no_plaintext_media_reach_the_disk(site) -> None:  # type: ignore[no-untyped-def]
    inst, url, groups = site
    client, _ = _login(url, "senior1")
    for group in groups:
        client.get(f"/media/{group[0]}/thumb")
    originals = [inst.evidence.get(g[0])[:64] for g in groups]
    for path in Path(inst.settings.data_dir).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(o in data for o in originals), path


def test_command_line_users_grading_profiles_and_serve(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    hotline_cli(data_dir, "init")
    inst = Installation.open(Settings(data_dir=data_dir))
    (group,) = seed_queue(inst, [2])
    assert "may add users" in hotline_cli(data_dir, "user", "add", "ann", "--role", "senior", "--password-stdin",
                                   stdin=PASSWORD + "\n", ok=False).stderr  # no admin logged in
    hotline_cli(data_dir, "user", "add", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")  # the first
    assert "wrong name or password" in hotline_cli(data_dir, "login", "root", "--password-stdin", stdin="nope\n",
                                            ok=False).stderr
    hotline_cli(data_dir, "login", "root", "--password-stdin", stdin=PASSWORD + "\n")
    added = json.loads(hotline_cli(data_dir, "user", "add", "ann", "--role", "senior", "--password-stdin", "--json",
                            stdin=PASSWORD + "\n").stdout)
    assert added["role"] == "senior" and "password" not in json.dumps(added)
    hotline_cli(data_dir, "user", "add", "bea", "--role", "analyst", "--password-stdin", stdin=PASSWORD + "\n")
    hotline_cli(data_dir, "user", "set", "ann", "--reveal-budget", "5", "--inactive")
    listed = {u["name"]: u for u in json.loads(hotline_cli(data_dir, "user", "list", "--json").stdout)}
    assert (listed["ann"]["reveal_budget"], listed["ann"]["active"]) == (5, False)
    assert "only analyst or senior" in hotline_cli(data_dir, "classify", group[0][:12], "--age-group", "adult",
                                            "--depiction", "real", ok=False).stderr  # an admin does not grade
    hotline_cli(data_dir, "login", "bea", "--password-stdin", stdin=PASSWORD + "\n")
    assert json.loads(hotline_cli(data_dir, "whoami", "--json").stdout) == {"name": "bea", "role": "analyst"}

    clusters = json.loads(hotline_cli(data_dir, "queue", "clusters", "--json").stdout)
    assert [sorted(c["members"]) for c in clusters] == [sorted(group)]
    graded = json.loads(hotline_cli(data_dir, "classify", group[0][:12], "--age-group", "pubescent", "--depiction", "real",
                             "--sexual-activity", "--gender", "female", "--json").stdout)
    assert graded["verdict"] == "national" and graded["jurisdictions"] == {"INTERPOL": False, "XX": True}
    assert "needs a reason" in hotline_cli(data_dir, "classify", group[1][:12], "--age-group", "adult", "--depiction", "real",
                                    "--verdict", "baseline", ok=False).stderr

    profiles = {p["jurisdiction"]: p for p in json.loads(hotline_cli(data_dir, "profile", "list", "--json").stdout)}
    assert profiles["XX"]["home"] and profiles["INTERPOL"]["applied"] and not profiles["DE"]["applied"]
    bad = tmp_path / "bad.toml"
    bad.write_text('jurisdiction = "ZZ"\n[[rules]]\nname = "r"\nverdict = "perhaps"\n')
    assert "rule 1" in hotline_cli(data_dir, "profile", "check", str(bad), ok=False).stderr
    assert json.loads(hotline_cli(data_dir, "profile", "recompute", "--json").stdout)["items"] == 1
    hotline_cli(data_dir, "logout")
    assert json.loads(hotline_cli(data_dir, "whoami", "--json").stdout)["name"] == "system"

    port = unused_port()
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir)}
    server = subprocess.Popen([sys.executable, "-m", "hotline.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read() if server.stderr else ""
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=20)
    inst.close()


def test_admin_adds_users_and_each_user_sets_their_blur(site) -> None:  # type: ignore[no-untyped-def]
    inst, url, groups = site
    admin, csrf = _login(url, "admin1")
    admin.post("/admin/users", data={"csrf": csrf, "action": "add", "name": "newbie", "role": "analyst",
                                     "password": PASSWORD})
    admin.post("/admin/users", data={"csrf": csrf, "action": "update", "name": "newbie", "reveal_budget": "7"})
    assert (inst.catalog.user("newbie").role, inst.catalog.user("newbie").reveal_budget) == ("analyst", 7)
    refused = admin.post("/admin/users", data={"csrf": csrf, "action": "add", "name": "x", "role": "analyst",
                                               "password": "short"})
    assert refused.status_code == 400 and "at least 10 characters" in refused.text
    analyst, csrf = _login(url, "newbie")
    assert "Revealed today: 0 / 7" in analyst.get("/queue").text
    sha = groups[0][0]
    strong = analyst.get(f"/media/{sha}/thumb").content
    analyst.post("/me", data={"csrf": csrf, "blur": "0"})
    assert inst.catalog.user("newbie").blur == 0
    light = Image.open(io.BytesIO(analyst.get(f"/media/{sha}/thumb").content))
    assert light.mode == "L" and _detail(light) > 2 * _detail(Image.open(io.BytesIO(strong)))
    changes = [e.detail for e in inst.catalog.audit_entries(action="user.update") if e.subject == "newbie"]
    assert changes == [{"blur": 0}, {"reveal_budget": 7}]  # newest first


def test_a_senior_decides_an_undetermined_item_on_its_page(site) -> None:  # type: ignore[no-untyped-def]
    inst, url, groups = site
    sha = groups[1][0]
    unclear = grading(age_group="unclear", depiction="real", sexual_activity=True)
    decide_item(inst.catalog, review_config(inst.settings), sha, "analyst1", unclear)
    senior, csrf = _login(url, "senior1")
    assert sha[:12] in senior.get("/confirmations").text  # the undetermined list
    analyst, analyst_csrf = _login(url, "analyst1")
    clear = {"age_group": "prepubescent", "depiction": "real", "sexual_activity": "1"}
    assert analyst.post(f"/item/{sha}/grade", data={"csrf": analyst_csrf, **clear}).status_code == 403
    senior.post(f"/item/{sha}/grade", data={"csrf": csrf, **clear})
    assert inst.catalog.item_decisions(sha)["verdicts"][-1]["verdict"] == "baseline"
    assert inst.catalog.escalated_items() == []
    page = senior.get(f"/item/{sha}").text
    cells = re.findall(r"<td>([^<]*)</td>", page)
    assert "True" not in cells and "False" not in cells and "None" not in cells and "yes" in cells
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", page)  # times to the minute, no microseconds
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>", page)
