"""The staff console: documents, what people ask that the guidance does not answer, and feedback.

Off unless `ASSISTANT_ADMIN_PASSWORD` is set; then `/admin/` (a Gradio app, loaded after the
public app has started) and `/api/admin/*` (JSON, HTTP Basic) answer only a logged-in member of
staff. One module per concern:

- `auth.py`: the password (a scrypt hash in memory), sessions, login, CSRF, the gate in front of
  every `/admin/` route; `throttle.py`: password checks counted and backed off; `origins.py`:
  requests that change something refused when they come from another site's page;
- `corpus.py`: uploading, replacing and removing documents and editing the deployer's files, each
  followed by an ingest in the background;
- `sources.py`: web sources (adding or removing one, syncing now, each page's status);
- `reports.py`: what the views show (documents, gaps, feedback, audit), shared by the UI and the API;
- `api.py`: `/api/admin/*`;
- `ui.py`: the Gradio app, and `mount.py`, which loads it in the background and mounts it.
"""

from __future__ import annotations

from fastapi import FastAPI

from assistant.service import Service
from assistant.stores.database import Database
from assistant.stores.records import Recorder


def add_console(app: FastAPI, service: Service, db: Database, recorder: Recorder, client_address) -> None:
    """Register the console's routes and gate on the app (only called when a password is set)."""
    from starlette.middleware import Middleware

    from assistant.console.api import add_api
    from assistant.console.auth import AdminGate, Auth, add_login_routes
    from assistant.console.corpus import Corpus
    from assistant.console.mount import mount_later
    from assistant.console.origins import CrossSiteGuard
    from assistant.console.reports import Reports
    from assistant.console.sources import Sources
    from assistant.stores.audit import AuditLog

    settings = service.settings
    audit = AuditLog(db, settings.audit_days)
    auth = Auth(settings.admin_password.get_secret_value(), db, settings, client_address)
    corpus = Corpus(service, db, audit)
    reports = Reports(service, db, recorder, audit)
    sources = Sources(corpus, audit)
    # Innermost (appended last): the app's security headers and error handling wrap the gate too;
    # requests from other sites' pages are refused before any session or password is looked at.
    app.user_middleware.append(Middleware(CrossSiteGuard, listed=auth.origins))
    app.user_middleware.append(Middleware(AdminGate, auth=auth))
    add_login_routes(app, auth, audit)
    add_api(app, auth, corpus, reports, audit, sources)
    mount_later(app, auth, corpus, reports, sources)
    app.state.console = {"auth": auth, "corpus": corpus, "reports": reports, "audit": audit, "sources": sources}
