#!/usr/bin/python3
"""Drives a fresh WordPress site the way a person would, to check that
sqlyard never shows a stale page after a change.

It runs the real web installer, logs in, publishes a post (REST API with
the wp_rest nonce, as the block editor does), edits it several times and
comments on it. Right after each change it reads back the public pages
(the post permalink, the home page) and the admin lists (edit.php,
edit-comments.php) once, with no retry, and reports whether the new text
is there.

Usage: wordpress_e2e.py BASE_URL TAG EDITS
Output: one "key<TAB>value" line per event; "check<TAB>ok <what>" or
"check<TAB>STALE <what>: <detail>" per read-back; "done<TAB>true" last.
Exits non-zero only when the site does not work at all (an HTTP error, a
failed install or login).
"""

import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ADMIN_USER = "admin"
ADMIN_PASSWORD = "wp-e2e-Admin-pw-1"  # test data only
ADMIN_EMAIL = "admin@example.test"


def out(key, value):
    print(f"{key}\t{value}", flush=True)


class Site:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar)
        )
        self.requests = 0

    def url(self, path):
        return path if path.startswith("http") else self.base + path

    def request(self, path, data=None, headers=None, method=None, ok=(200,)):
        """Returns (status, final url, body); raises on an unexpected status."""
        body = None
        hdrs = {"User-Agent": "sqlyard-wordpress-e2e"}
        if headers:
            hdrs.update(headers)
        if isinstance(data, dict):
            body = urllib.parse.urlencode(data).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(data, (bytes, str)):
            body = data.encode() if isinstance(data, str) else data
        req = urllib.request.Request(
            self.url(path), data=body, headers=hdrs, method=method
        )
        self.requests += 1
        try:
            with self.opener.open(req, timeout=60) as resp:
                status, final, text = resp.status, resp.geturl(), resp.read()
        except urllib.error.HTTPError as e:
            status, final, text = e.code, e.geturl(), e.read()
        text = text.decode("utf-8", "replace")
        if status not in ok:
            raise RuntimeError(f"{method or ('POST' if body else 'GET')} {path}: HTTP {status}\n{text[:2000]}")
        return status, final, text

    def get(self, path):
        return self.request(path)[2]


def install(site, title):
    page = site.get("/wp-admin/install.php")
    if "weblog_title" not in page:
        raise RuntimeError("install.php shows no install form:\n" + page[:2000])
    _, _, page = site.request(
        "/wp-admin/install.php?step=2",
        {
            "weblog_title": title,
            "user_name": ADMIN_USER,
            "admin_password": ADMIN_PASSWORD,
            "admin_password2": ADMIN_PASSWORD,
            "pw_weak": "1",
            "admin_email": ADMIN_EMAIL,
            "blog_public": "0",
            "language": "",
            "Submit": "Install WordPress",
        },
    )
    if "Success!" not in page:
        raise RuntimeError("the installer did not succeed:\n" + page[:3000])
    out("installed", "true")


def login(site):
    site.get("/wp-login.php")  # sets wordpress_test_cookie
    _, final, page = site.request(
        "/wp-login.php",
        {
            "log": ADMIN_USER,
            "pwd": ADMIN_PASSWORD,
            "wp-submit": "Log In",
            "redirect_to": site.base + "/wp-admin/",
            "testcookie": "1",
        },
    )
    if "/wp-admin/" not in final or "Dashboard" not in page:
        raise RuntimeError(f"login failed (landed on {final}):\n" + page[:2000])
    out("logged_in", "true")


def rest_nonce(site):
    nonce = site.get("/wp-admin/admin-ajax.php?action=rest-nonce").strip()
    if not re.fullmatch(r"[0-9a-f]{10}", nonce):
        raise RuntimeError(f"no wp_rest nonce: {nonce[:200]!r}")
    return nonce


def rest(site, nonce, route, payload):
    _, _, text = site.request(
        "/?rest_route=" + urllib.parse.quote(route),
        json.dumps(payload),
        headers={"Content-Type": "application/json", "X-WP-Nonce": nonce},
        ok=(200, 201),
    )
    return json.loads(text)


class Checks:
    def __init__(self):
        self.ok = 0
        self.stale = 0

    def expect(self, what, page, present, absent=None):
        """`present` must be in `page`; `absent` (the previous text) must not."""
        if present not in page:
            self.stale += 1
            out("check", f"STALE {what}: {present!r} missing")
        elif absent is not None and absent in page:
            self.stale += 1
            out("check", f"STALE {what}: old {absent!r} still shown")
        else:
            self.ok += 1
            out("check", f"ok {what}")


def read_back_post(site, checks, link, title, old_title, body):
    checks.expect("post page title", site.get(link), title, old_title)
    checks.expect("post page content", site.get(link), body)
    checks.expect("home page", site.get("/"), title, old_title)
    checks.expect(
        "admin post list", site.get("/wp-admin/edit.php"), title, old_title
    )


def comment(site, checks, post_id, link, text):
    _, final, _ = site.request(
        "/wp-comments-post.php",
        {
            "comment_post_ID": str(post_id),
            "comment": text,
            "comment_parent": "0",
            "submit": "Post Comment",
        },
    )
    if "#comment-" not in final and "comment" not in final:
        out("note", f"comment redirect went to {final}")
    checks.expect("post page comment", site.get(link), text)
    checks.expect(
        "admin comment list", site.get("/wp-admin/edit-comments.php"), text
    )


def main():
    base, tag, edits = sys.argv[1], sys.argv[2], int(sys.argv[3])
    site = Site(base)
    checks = Checks()
    t0 = time.monotonic()
    install(site, f"sqlyard e2e {tag}")
    login(site)
    nonce = rest_nonce(site)

    title = f"First post {tag}"
    body = f"Body zero of {tag}"
    post = rest(
        site,
        nonce,
        "/wp/v2/posts",
        {"title": title, "content": f"<p>{body}</p>", "status": "publish"},
    )
    post_id, link = post["id"], post["link"]
    out("published", json.dumps({"id": post_id, "link": link}))
    read_back_post(site, checks, link, title, None, body)

    for i in range(1, edits + 1):
        old_title = title
        title = f"Edit {i} of {tag} title"
        body = f"Edited body {i} of {tag}"
        rest(
            site,
            nonce,
            f"/wp/v2/posts/{post_id}",
            {"title": title, "content": f"<p>{body}</p>"},
        )
        read_back_post(site, checks, link, title, old_title, body)
        comment(site, checks, post_id, link, f"Comment {i} on {tag} here")

    # Archive pages (SQL_CALC_FOUND_ROWS + FOUND_ROWS()), search, feed.
    checks.expect("search page", site.get("/?s=" + urllib.parse.quote(tag)), title)
    checks.expect("author archive", site.get("/?author=1"), title)
    checks.expect("feed", site.get("/feed/"), title)
    checks.expect("comments feed", site.get("/comments/feed/"), f"Comment {edits} on {tag}")
    checks.expect("dashboard", site.get("/wp-admin/"), "Dashboard")

    out("requests", site.requests)
    out("checks_ok", checks.ok)
    out("checks_stale", checks.stale)
    out("seconds", f"{time.monotonic() - t0:.1f}")
    out("done", "true")


if __name__ == "__main__":
    main()
