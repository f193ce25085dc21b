"""The web page's server: FastAPI views of run folders; the page itself is package data in `static/`."""

from ..lazy import lazy_exports

__all__ = ["RunData", "RunStore", "create_app", "web_dir"]
__getattr__ = lazy_exports(__name__, {"create_app": ".app", "web_dir": ".app", "RunData": ".runs", "RunStore": ".runs"})
