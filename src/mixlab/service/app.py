"""The application factory: ``create_app(settings)`` wires the database, storage, worker,
notes cache, routers, error handlers and the static front end."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from mixlab import __version__
from mixlab.service.config import Settings
from mixlab.service.db import Store
from mixlab.service.deps import Services
from mixlab.service.errors import error_body, install_handlers
from mixlab.service.jobs.runner import JobRunner
from mixlab.service.jobs.tasks import TASKS, notes_target, resume_preparation
from mixlab.service.notes_cache import NotesCache
from mixlab.service.routers import files, jobs, notes, options, plan, sessions, tracks, versions
from mixlab.service.storage import Storage
from mixlab.service.uploads import sweep_orphans

log = logging.getLogger(__name__)


def web_folder() -> Path | None:
    """The packaged front end (``mixlab/web``), or None while it is not there."""
    try:
        folder = Path(str(resources.files("mixlab").joinpath("web")))
    except (ModuleNotFoundError, TypeError):
        return None
    return folder if (folder / "index.html").is_file() else None


def build_services(settings: Settings) -> Services:
    store = Store(settings.data_dir / "mixlab.db")
    storage = Storage(settings.data_dir)
    runner = JobRunner(store, storage, TASKS, workers=settings.job_workers)
    cache = NotesCache(store, storage, size=settings.notes_cache_sessions)
    services = Services(settings=settings, store=store, storage=storage, runner=runner, notes=cache)

    def warm_notes(job: dict[str, Any]) -> None:
        # After a mix the page asks for notes at once: have them ready (in this worker thread).
        if job["kind"] != "mix":
            return
        if services.guard.is_deleting(job["owner"], job["session_id"]):
            return
        with services.guard.use(job["owner"], job["session_id"]):  # fills the session's analysis cache
            session = store.session(job["owner"], job["session_id"])
            the_plan = services.plan(job["owner"], job["session_id"]) if session else None
            if session is None or the_plan is None:
                return
            genre = the_plan.param("session", "genre")
            cache.get(job["owner"], session, sample_rate=the_plan.context.get("session", {}).get("sample_rate"),
                      genre=genre.value if genre else session["genre"], target=notes_target(session))

    runner.on_done(warm_notes)
    return services


def create_app(settings: Settings | None = None) -> FastAPI:
    """The mixlab web application (API under ``/api``, the front end at ``/``)."""
    settings = settings or Settings.from_env()
    services = build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.storage.sweep_temp()
        if removed := sweep_orphans(services):
            log.info("removed %d stored files no track claimed", removed)
        interrupted = services.runner.recover()
        if resumed := resume_preparation(services.store, services.runner.submit, interrupted):
            log.info("resumed preparing the tracks of %d sessions", resumed)
        yield
        services.runner.shutdown(wait=False)

    app = FastAPI(title="mixlab", version=__version__, lifespan=lifespan,
                  description="AI mixing and mastering: sessions, uploads, jobs, plans, Mix Notes, versions. "
                              "The contract is docs/API.md.")
    app.state.services = services
    install_handlers(app)
    for module in (options, sessions, files, tracks, jobs, plan, notes, versions):
        app.include_router(module.router)

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def api_not_found(rest: str) -> JSONResponse:
        return JSONResponse(error_body("http.not_found", f"/api/{rest}: no such API endpoint."), status_code=404)

    web = web_folder()
    if web is not None:
        app.mount("/", StaticFiles(directory=web, html=True), name="web")
    else:
        @app.get("/", include_in_schema=False)
        def no_front_end() -> JSONResponse:
            return JSONResponse({"message": "mixlab API is running; the web front end is not installed. "
                                            "See /docs for the API."})
    return app


__all__ = ["build_services", "create_app", "web_folder"]
