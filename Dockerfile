# chibo in a container, in two stages: the first builds chibo's wheel (the translation catalogues
# are compiled into it) and installs it with the locked dependencies into /opt/chibo; the second is a
# slim runtime with that environment only: no compilers, no build tools, no pip cache, not root.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements/ requirements/
# The locked dependencies first, so a change to chibo's code reuses this layer.
RUN python -m venv /opt/chibo \
    && /opt/chibo/bin/pip install -r requirements/lock.txt \
    && pip install --no-deps -r requirements/build.txt
COPY . .
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/chibo/bin/pip install --no-deps /wheels/chibo-*.whl \
    && /opt/chibo/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE}
# The PostgreSQL client for `chibo backup` / `chibo restore` must be of the server's major version or
# newer: it comes from the PostgreSQL project's Debian repository (as postgresql.org/download says).
ARG PG_MAJOR=16
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/chibo/bin:$PATH \
    CHIBO_HOST=0.0.0.0 \
    CHIBO_PORT=8000
# The printable invite sheet writes Vietnamese names: it needs a font with their diacritics.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates fonts-dejavu-core \
    && install -d /usr/share/postgresql-common/pgdg \
    && python -c "import urllib.request; urllib.request.urlretrieve('https://www.postgresql.org/media/keys/ACCC4CF8.asc', '/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc')" \
    && . /etc/os-release \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home chibo \
    && mkdir -p /app/data /app/backups && chown chibo /app/data /app/backups
COPY --from=build /opt/chibo /opt/chibo

USER chibo
WORKDIR /app
# With the default SQLite database, keep it on a volume.
ENV CHIBO_DATABASE_URL=sqlite+aiosqlite:////app/data/chibo.db
# The secret ballot key (README "Secret ballot"), when CHIBO_BALLOT_KEY is not given: on the volume.
ENV CHIBO_BALLOT_KEY_FILE=/app/data/chibo.ballot-key
VOLUME ["/app/data", "/app/backups"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["chibo", "serve"]
