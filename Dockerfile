# chibo in a container: the same set-up script as the README, then `chibo serve`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHIBO_HOST=0.0.0.0 \
    CHIBO_PORT=8000

# The printable invite sheet writes Vietnamese names: it needs a font with their diacritics.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
RUN bash scripts/setup.sh \
    && useradd --system --home /app chibo \
    && mkdir -p /app/data && chown -R chibo /app/data

USER chibo
# With the default SQLite database, keep it on a volume.
ENV CHIBO_DATABASE_URL=sqlite+aiosqlite:////app/data/chibo.db
# The secret ballot key (README "Secret ballot"), when CHIBO_BALLOT_KEY is not given: on the volume.
ENV CHIBO_BALLOT_KEY_FILE=/app/data/chibo.ballot-key
VOLUME ["/app/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD [".venv/bin/python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD [".venv/bin/chibo", "serve"]
