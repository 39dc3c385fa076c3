FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEADGRAPH_HOST=0.0.0.0 \
    LEADGRAPH_PORT=8000 \
    LEADGRAPH_WORKERS=2 \
    LEADGRAPH_GRAPHIQL=false \
    LEADGRAPH_DATABASE_URL=sqlite:///data/leadgraph.sqlite3

WORKDIR /app
COPY pyproject.toml README.md schema.graphql ./
COPY api ./api
COPY models ./models
COPY resolvers ./resolvers
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 leadgraph \
    && mkdir -p /data && chown leadgraph /data

USER leadgraph
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"LEADGRAPH_PORT\"]}/healthz', timeout=2)"

# Migrations first (idempotent), then uvicorn with LEADGRAPH_WORKERS workers.
CMD ["sh", "-c", "leadgraph migrate && exec leadgraph serve"]
