"""GraphiQL served from the package: the page and its pinned assets, no network beyond us."""

import hashlib
from pathlib import Path

import orjson
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
PAGE = (Path(__file__).resolve().parent / "graphiql.html").read_text()
ASSETS_PREFIX = "/graphiql/assets"

DEFAULT_QUERY = """# leadgraph: with your API key under Headers, press ▶
{
  accounts(first: 5, orderBy: [{field: NAME}]) {
    totalCount
    edges { node { name industry contacts(first: 3) { edges { node { fullName email } } } } }
  }
}
"""


def assets_version() -> str | None:
    """A short hash of the pinned versions, so the asset URLs change when the assets do."""
    versions = ASSETS_DIR / "VERSIONS"
    if not versions.is_file():
        return None
    return hashlib.sha256(versions.read_bytes()).hexdigest()[:12]


class ImmutableStaticFiles(StaticFiles):
    """Static files whose URL carries their version: browsers may keep them for a year."""

    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200):
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def routes(settings) -> list[Mount]:
    """The assets under a versioned path, when GraphiQL is on and its assets are installed."""
    version = assets_version()
    if not settings.graphiql or version is None:
        return []
    return [Mount(f"{ASSETS_PREFIX}/{version}", ImmutableStaticFiles(directory=ASSETS_DIR))]


def page(headers: dict[str, str] | None = None) -> Response:
    """The GraphiQL page; `headers` pre-fills its Headers tab (the quickstart's demo key)."""
    version = assets_version()
    if version is None:
        return PlainTextResponse(
            "GraphiQL's assets are not installed: run `make assets` (needs npm), or install "
            "leadgraph from a wheel built by `make wheel`.",
            status_code=503,
        )
    config = {
        "query": DEFAULT_QUERY,
        "headers": orjson.dumps(headers, option=orjson.OPT_INDENT_2).decode() if headers else None,
        "prefilled": bool(headers),
    }
    # "<" escaped so no value can close the <script> element.
    script_safe = orjson.dumps(config).decode().replace("<", "\\u003c")
    html = PAGE.replace("__ASSETS__", f"{ASSETS_PREFIX}/{version}").replace(
        "__CONFIG__", script_safe
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
