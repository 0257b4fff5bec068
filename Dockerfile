# syntax=docker/dockerfile:1
# The pipeline's container: `python -m workers` (the scheduled service) by default;
# any other command runs once, e.g. `docker run ... python -m ingest --genre war`.
# No secret is ever baked in: TMDB_READ_ACCESS_TOKEN and AWS credentials come from the
# environment at `docker run` time (see README.md).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first, in their own layer, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt
COPY ingest ./ingest
COPY workers ./workers
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps .

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# A fixed, unprivileged uid; -l keeps the lastlog file small for a high uid.
RUN useradd --create-home --home-dir /app --uid 10001 --user-group -l ingest \
 && mkdir -p /app/data /app/datalake \
 && chown ingest:ingest /app/data /app/datalake
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=ingest:ingest config.toml ./
USER 10001:10001
# Mount the CSV files at /app/data (config.toml's [job] csv = data/*.csv), and a host
# directory at /app/datalake if the lake is local rather than s3://.
EXPOSE 8080
# Liveness (/healthz: the process answers), on the port INGEST_PORT moves the service to.
# Readiness (/readyz: lake, TMDB, queue) is for a load balancer, not for this probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('INGEST_PORT', '8080'), timeout=4)"]
# Exec form, no shell in between: SIGTERM from `docker stop` reaches Python, which stops
# taking work and lets the batches in flight finish within [service] grace_s. Give it time:
# `docker stop -t 90` (compose: stop_grace_period), since Docker's default is 10 s.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "workers"]
