"""The web page's server: FastAPI views of run folders (the page itself lives in top-level `web/`)."""

from .app import create_app, web_dir
from .runs import RunData, RunStore

__all__ = ["RunData", "RunStore", "create_app", "web_dir"]
