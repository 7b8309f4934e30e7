"""Files sent to Gradio's own upload route (/admin/gradio_api/upload) land in the data folder
(GRADIO_TEMP_DIR), and are removed as soon as the console has taken the file or refused it; any
left (an upload no change followed) are swept away."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from tests.test_console import PASSWORD, make_app, wait_for_console, wait_for_job

EXPENSES = (
    b"---\ntitle: Volunteer expenses policy\nurl: https://example.org/expenses\n---\n# Volunteer expenses\n\n"
    b"## Mileage\n\nVolunteers who drive to the prison visitor centre can claim mileage at 45p per mile.\n"
)
ORIGIN = {"Origin": "https://testserver"}


@pytest.fixture
def console(service, tmp_path):
    app, svc = make_app(service, tmp_path, admin_password=PASSWORD)
    with TestClient(app, base_url="https://testserver") as client:
        client.app_, client.svc = app, svc
        wait_for_console(client)
        page = client.get("/admin/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        assert (
            client.post("/admin/login", data={"password": PASSWORD, "csrf": token}, follow_redirects=False).status_code
            == 303
        )
        yield client


def gradio_upload(client, name: str, data: bytes) -> Path:
    r = client.post("/admin/gradio_api/upload", files={"files": (name, data)}, headers=ORIGIN)
    assert r.status_code == 200, r.text
    return Path(r.json()[0])


def run_upload_event(client, path: Path) -> str:
    """The console's "Choose a document to add" handler, through Gradio's queue as the page runs it."""
    gradio = next(r.app for r in client.app_.router.routes if isinstance(r, Mount) and r.path == "/admin")
    blocks = gradio.get_blocks()
    fn_index = next(i for i, fn in blocks.fns.items() if getattr(fn, "name", "") == "upload")
    session = uuid.uuid4().hex[:10]
    file_data = {"path": str(path), "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}
    joined = client.post(
        "/admin/gradio_api/queue/join",
        json={
            "data": [file_data],
            "fn_index": fn_index,
            "session_hash": session,
            "event_data": None,
            "trigger_id": None,
        },
        headers=ORIGIN,
    )
    assert joined.status_code == 200, joined.text
    messages = []
    with client.stream("GET", f"/admin/gradio_api/queue/data?session_hash={session}", headers=ORIGIN) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                messages.append(message)
                if message.get("msg") == "process_completed":
                    break
    return json.dumps(messages[-1])


def test_gradio_uploads_stay_in_the_data_folder_and_are_removed_once_taken_or_refused(console):
    data_dir = console.svc.settings.data_dir.resolve()
    taken = gradio_upload(console, "expenses.md", EXPENSES)
    assert taken.resolve().is_relative_to(data_dir), taken  # not in the system's /tmp/gradio
    assert taken.exists()
    outcome = run_upload_event(console, taken)
    assert "Adding" in outcome and "expenses.md" in outcome, outcome
    assert not taken.exists() and not taken.parent.exists()

    refused = gradio_upload(console, "notes.md", bytes(range(256)) * 40)
    outcome = run_upload_event(console, refused)
    assert "Not added" in outcome and "binary" in outcome, outcome
    assert not refused.exists() and not refused.parent.exists()

    # an upload no change followed is swept away after a while
    from assistant.console import uploads

    orphan = gradio_upload(console, "orphan.md", EXPENSES)
    old = time.time() - uploads.KEEP_SECONDS - 60
    os.utime(orphan.parent, (old, old))
    uploads.sweep(uploads.upload_folder(console.svc.settings.data_dir))
    assert not orphan.exists() and not orphan.parent.exists()
    latest = console.get("/api/admin/documents", auth=("admin", PASSWORD)).json()["job"]
    if latest and latest["state"] == "running":
        wait_for_job(console, latest["id"])
