"""One router per resource, gathered by :func:`mixlab.service.app.create_app` under ``/api``."""
