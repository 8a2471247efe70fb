"""The web server's entry points, kept here for users and scripts: ``create_app`` and ``serve``.
The server itself lives in the ``agent.api`` package (see its docstring)."""

from agent.api import create_app, serve
from agent.api.models import MODEL_ID

__all__ = ["MODEL_ID", "create_app", "serve"]
