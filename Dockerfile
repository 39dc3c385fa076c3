# leadgraph's image: one uvicorn worker on an SQLite file in the /data volume by default;
# set LEADGRAPH_DATABASE_URL to PostgreSQL (and LEADGRAPH_WORKERS) for several workers.
# compose.yaml runs the production shape: PostgreSQL, Redis and several workers.

# GraphiQL's browser build, pinned by web/package-lock.json (served from the package).
FROM node:20-slim AS assets
WORKDIR /src
COPY web/package.json web/package-lock.json web/copy-assets.sh web/
RUN cd web && npm ci --no-audit --no-fund --ignore-scripts \
    && sh copy-assets.sh /src/api/static/graphiql

# A wheel of the project (code, migrations, GraphiQL assets) and of its dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
COPY models ./models
COPY resolvers ./resolvers
COPY --from=assets /src/api/static/graphiql ./api/static/graphiql
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEADGRAPH_HOST=0.0.0.0 \
    LEADGRAPH_PORT=8000 \
    LEADGRAPH_WORKERS=1 \
    LEADGRAPH_GRAPHIQL=false \
    LEADGRAPH_INTROSPECTION=false \
    LEADGRAPH_DATABASE_URL=sqlite:///data/leadgraph.sqlite3
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels leadgraph \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 leadgraph \
    && mkdir -p /data && chown leadgraph /data
VOLUME /data
WORKDIR /data
USER leadgraph
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"LEADGRAPH_PORT\"]}/readyz', timeout=2)"

# Migrations first (idempotent), then uvicorn with LEADGRAPH_WORKERS workers.
CMD ["sh", "-c", "leadgraph migrate && exec leadgraph serve"]
