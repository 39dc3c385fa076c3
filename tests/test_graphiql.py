"""The GraphiQL page and its assets over HTTP: served from the package, cached for a year."""

import re
from dataclasses import replace

import httpx

from api import graphiql
from api.app import create_app


async def test_page_and_assets_come_from_the_server_with_long_cache_headers(http):
    """The page needs no key, names only local asset URLs, is never cached; each asset is
    served with a one-year immutable cache header under a versioned path."""
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assets = [s for s in sources if s.startswith("/graphiql/assets/")]
    assert len(assets) == 4 and all(s.startswith(("/", "data:")) for s in sources)
    assert "Authorization" in page.text and '"prefilled":false' in page.text
    for url in assets:
        response = await http.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert len(response.content) > 10_000
    other_version = re.sub(r"/assets/[0-9a-f]+/", "/assets/000000000000/", assets[0])
    assert (await http.get(other_version)).status_code == 404


async def test_only_the_quickstart_prefills_a_key_and_graphiql_off_serves_nothing(settings):
    """create_app pre-fills the Headers tab only when given ide_headers (the quickstart does);
    with GraphiQL off neither the page nor the assets are served."""
    prefilled = create_app(settings, ide_headers={"Authorization": "Bearer lg_demo</script>"})
    off = create_app(replace(settings, graphiql=False))
    html = {"Accept": "text/html"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=prefilled), base_url="http://a"
    ) as a:
        page = (await a.get("/graphql", headers=html)).text
    assert "Bearer lg_demo\\u003c/script>" in page and "</script>\\" not in page
    assert '"prefilled":true' in page
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=off), base_url="http://b") as b:
        response = await b.get("/graphql", headers=html)
        assert "GraphiQL" not in response.text
        asset = f"{graphiql.ASSETS_PREFIX}/{graphiql.assets_version()}/graphiql.min.js"
        assert (await b.get(asset)).status_code == 404
