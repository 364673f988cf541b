"""The review app under probing: wrong passwords slow further logins per account and per
client address, the slow password hash never stalls other users' pages, cookies are Secure
behind an HTTPS proxy, and users change their own password."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from hotline.demo.local_site import unused_port
from hotline.installation import Installation
from hotline.passwords import hash_password
from hotline.settings import Settings
from review import auth
from review.app import create_app
from review.server import running

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Installation, str]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("hardening") / "data", review_behind_proxy=True,
                        login_free_failures=2, login_backoff_s=600)  # a wait no test outlasts
    inst = Installation.init(settings)
    inst.catalog.add_user("root", "admin", hash_password(PASSWORD), actor="system")
    for name in ("u1", "u2", "u3", "u4"):
        inst.catalog.add_user(name, "analyst", hash_password(PASSWORD), actor="root")
    with running(create_app(inst), unused_port()) as url:
        yield inst, url
    inst.close()


def _client(url: str, address: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-Forwarded-For": f"203.0.113.9, {address}"}, timeout=120)


def _login(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    return client.post("/login", data={"name": name, "password": password, "csrf": token})


def test_wrong_passwords_slow_logins_per_account_and_per_address(site) -> None:  # type: ignore[no-untyped-def]
    inst, url = site
    a, b, c = (_client(url, f"10.0.0.{n}") for n in (1, 2, 3))
    assert _login(a, "u1", "wrong password 1").status_code == 303
    assert _login(a, "u1", "wrong password 2").status_code == 303
    throttled = _login(a, "u1", PASSWORD)  # even the right password waits now
    assert throttled.status_code == 429 and 0 < int(throttled.headers["retry-after"]) <= 600
    assert "try again in" in throttled.text
    assert _login(b, "u1", PASSWORD).status_code == 429  # the account, from another address
    assert _login(c, "u2", PASSWORD).status_code == 303  # another account, another address
    assert _login(a, "u2", PASSWORD).status_code == 429  # the address, for another account
    assert [e.subject for e in inst.catalog.audit_entries("user.login_throttled")][:1] == ["u2"]


def test_the_password_hash_runs_beside_the_pages(site, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _inst, url = site
    entered, release = threading.Event(), threading.Event()
    original = auth.verify_password

    def held(stored: str | None, password: str) -> bool:  # a hash that takes as long as the test wants
        entered.set()
        release.wait(300)
        return original(stored, password)

    monkeypatch.setattr(auth, "verify_password", held)
    login = threading.Thread(target=_login, args=(_client(url, "10.0.1.1"), "u3"))
    login.start()
    try:
        assert entered.wait(120)
        # with the hash on the event loop, this request would wait for it
        assert _client(url, "10.0.1.2").get("/login", timeout=60).status_code == 200
    finally:
        release.set()
        login.join(120)


def test_cookies_are_secure_over_https_or_behind_a_proxy_that_says_so(site) -> None:  # type: ignore[no-untyped-def]
    _inst, url = site
    over_https = httpx.get(f"{url}/login", headers={"X-Forwarded-Proto": "https"}, timeout=60)
    assert "secure" in over_https.headers["set-cookie"].lower()
    plain = httpx.get(f"{url}/login", timeout=60)
    assert "secure" not in plain.headers["set-cookie"].lower()

    def request(scheme: str, proto: str) -> Request:
        return Request({"type": "http", "scheme": scheme, "method": "GET", "path": "/", "query_string": b"",
                        "server": ("h", 80), "headers": [(b"x-forwarded-proto", proto.encode())]})

    direct = Settings(data_dir=Path("unused"))
    assert not auth.is_https(request("http", "https"), direct)  # no proxy: the header is anyone's say
    assert auth.is_https(request("https", ""), direct)
    assert auth.is_https(request("http", "https"), direct.model_copy(update={"review_behind_proxy": True}))


def test_users_change_their_own_password(site) -> None:  # type: ignore[no-untyped-def]
    inst, url = site
    client = _client(url, "10.0.2.1")
    assert _login(client, "u4").headers["location"] == "/"
    me = client.get("/me").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', me).group(1)  # type: ignore[union-attr]
    new = "a new passphrase here"
    wrong = client.post("/me/password", data={"csrf": csrf, "current": "not it", "new": new, "confirm": new})
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    differ = client.post("/me/password", data={"csrf": csrf, "current": PASSWORD, "new": new, "confirm": new + "!"})
    assert differ.status_code == 400
    changed = client.post("/me/password", data={"csrf": csrf, "current": PASSWORD, "new": new, "confirm": new})
    assert changed.status_code == 303 and changed.headers["location"] == "/login?error=changed"
    assert client.get("/me").headers.get("location") == "/login"  # the session ended with the change
    assert _login(_client(url, "10.0.2.2"), "u4", new).headers["location"] == "/"
    entries = inst.catalog.audit_entries("user.update")
    assert entries[0].actor == "u4" and entries[0].detail == {"password": "changed"}
