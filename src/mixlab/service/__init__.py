"""The mixlab web service: HTTP API (FastAPI), jobs, storage and database.

``create_app(Settings.from_env())`` builds the whole application; ``mixlab serve`` runs it with
uvicorn. The contract with the browser app is ``docs/API.md``.
"""

from __future__ import annotations

from mixlab.service.app import create_app
from mixlab.service.config import Settings

__all__ = ["Settings", "create_app"]
