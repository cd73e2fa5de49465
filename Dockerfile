# syntax=docker/dockerfile:1
# The Storeplane image: API, worker and migrations (`python -m app serve|worker|migrate`) plus the helm
# v4 binary the workers drive and the store chart they install.
#
# UNVERIFIED: this repository's machines have no Docker engine, so this file has never been built
# here; .github/workflows/release.yml builds it for linux/amd64 and linux/arm64 on every version tag.
#
#   docker build -t storeplane/storeplane:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/storeplane:<version> --push .
#
# Base images are pinned by exact tag (the newest patch releases when this was written: Python 3.11.15
# on Debian 13 "trixie", Go 1.26.8). To pin by digest as well, append it to the ARG
# (`python:3.11.15-slim-trixie@sha256:…`, from `docker buildx imagetools inspect`);
# .github/dependabot.yml proposes tag and digest bumps.

ARG PYTHON_IMAGE=python:3.11.15-slim-trixie
ARG GO_IMAGE=golang:1.26.8-trixie

# --- helm: built from the same pinned module and flags as tools/build.sh (tools/versions.env) -----
# On the build machine's own platform, cross-compiled for the target (no emulation for Go).
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS helm
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY tools/versions.env ./
COPY tools/helm/ ./helm/
RUN . ./versions.env \
 && cd helm \
 && CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-$(go env GOARCH)} go build -trimpath \
      -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
      -o /out/helm helm.sh/helm/v4/cmd/helm

# --- Python dependencies from uv.lock, exactly (no dev extras) -------------------------------------
FROM ${PYTHON_IMAGE} AS deps
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv UV_PYTHON_DOWNLOADS=never
COPY pyproject.toml uv.lock README.md ./
# The project itself is not installed: the code runs from /app (app/settings.py finds alembic.ini,
# migrations/, store-chart/ and values/ next to app/).
RUN uv sync --frozen --no-dev --no-install-project --python /usr/local/bin/python

# --- runtime ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# uid/gid 10001: the platform chart's pod securityContext runs as this user with a read-only root.
RUN groupadd --system --gid 10001 storeplane \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin storeplane
WORKDIR /app
COPY --from=helm /out/helm /usr/local/bin/helm
COPY --from=deps /app/.venv /app/.venv
COPY alembic.ini ./
COPY migrations/ ./migrations/
COPY app/ ./app/
COPY store-chart/ ./store-chart/
COPY values/ ./values/
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    STOREPLANE_DATA_DIR=/var/lib/storeplane \
    STOREPLANE_HELM_BINARY=/usr/local/bin/helm \
    STOREPLANE_HOST=0.0.0.0
RUN mkdir -p /var/lib/storeplane && chown 10001:10001 /var/lib/storeplane \
 && helm version --short
USER 10001:10001
EXPOSE 8000 9464
ENTRYPOINT ["python", "-m", "app"]
CMD ["serve"]
