"""Web sources in the staff console, through the real app and the JSON API, against a local site:
add a source (the deployer's file keeps its comments), sync now, see each page's status and text,
answer from it, remove it."""

import pytest
from fastapi.testclient import TestClient

from tests.test_console import ADMIN, PASSWORD, SCRIPT, make_app, wait_for_job
from tests.test_console import console as console  # noqa: F401 - the module's fixture, shared
from tests.web_site import Site

SMALLEST = "what's the smallest grant we can get from the community justice fund?"


@pytest.fixture
def site():
    with Site() as running:
        yield running


def test_a_source_is_added_synced_shown_answered_from_and_removed(service, tmp_path, site):
    app, svc = make_app(service, tmp_path, admin_password=PASSWORD, web_delay_seconds=0)
    page_url = f"{site.base}/guidance/grants"
    with TestClient(app, base_url="https://testserver") as client:
        bad = client.post("/api/admin/sources", json={"url": "javascript:alert(1)"}, auth=ADMIN, headers=SCRIPT)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_source"
        assert "not a web address" in bad.json()["error"]["message"]

        added = client.post("/api/admin/sources", json={"url": page_url, "refresh": "6h"}, auth=ADMIN, headers=SCRIPT)
        assert added.status_code == 202, added.text
        assert wait_for_job(client, added.json()["job"]["id"])["state"] == "done"
        text = client.get("/api/admin/files/assistant.yaml", auth=ADMIN).text
        assert f"url: {page_url}" in text and "refresh: 6h" in text
        assert "# Only contacts the guidance itself gives" in text, "the deployer's comments were lost"
        again = client.post("/api/admin/sources", json={"url": page_url}, auth=ADMIN, headers=SCRIPT)
        assert again.status_code == 422 and "already a source" in again.json()["error"]["message"]

        synced = client.post("/api/admin/sync", auth=ADMIN, headers=SCRIPT)
        assert synced.status_code == 200 and synced.json()["added"] == 1, synced.text
        view = client.get("/api/admin/sources", auth=ADMIN).json()
        assert view["sources"][0]["url"] == page_url and view["sources"][0]["pages"] == 1
        assert view["sources"][0]["refresh"] == "6h"
        [page] = view["pages"]
        assert page["status"] == 200 and page["title"] == "Community Justice Fund grants" and not page["error"]
        assert "£2,500" in client.app.state.console["sources"].preview(page_url)

        answer = client.post("/api/ask", json={"question": SMALLEST}).json()
        assert "£2,500" in answer["answer"]
        assert any(c["url"].startswith(page_url + "#:~:text=") for c in answer["citations"])

        removed = client.request("DELETE", "/api/admin/sources", params={"url": page_url}, auth=ADMIN, headers=SCRIPT)
        assert removed.status_code == 202
        assert wait_for_job(client, removed.json()["job"]["id"])["state"] == "done"
        synced = client.post("/api/admin/sync", auth=ADMIN, headers=SCRIPT).json()
        assert synced["removed"] == 1
        answer = client.post("/api/ask", json={"question": SMALLEST}).json()
        assert not any(c["url"].startswith(page_url) for c in answer["citations"])
        actions = [e["action"] for e in client.get("/api/admin/audit", auth=ADMIN).json()["entries"]]
        assert actions.count("sync") == 2


def test_the_deployer_file_is_refused_with_a_broken_source(console):  # noqa: F811 - the fixture
    from tests.test_console import idle

    idle(console)
    before = console.get("/api/admin/files/assistant.yaml", auth=ADMIN).text
    broken = before + "\nsources:\n  - url: https://www.example.org/sitemap.xml\n    refresh: 2s\n"
    refused = console.put("/api/admin/files/assistant.yaml", content=broken.encode(), auth=ADMIN, headers=SCRIPT)
    assert refused.status_code == 422 and "Source 1: refresh '2s' is shorter than five minutes" in refused.text
    assert console.get("/api/admin/files/assistant.yaml", auth=ADMIN).text == before
