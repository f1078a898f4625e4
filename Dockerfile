# keyward's container image. Build it from the repository root:
#
#   docker build \
#     --build-arg VERSION=1.2.3 \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     --build-arg DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
#     -t keyward:1.2.3 .
#
# Stage 1 builds one static binary (pure Go: SQLite is modernc.org/sqlite, so
# CGO_ENABLED=0). Stage 2 is distroless static: no shell, no package manager,
# CA certificates and /etc/passwd only, running as uid 65532. The image
# writes nothing outside /var/lib/keyward, so it runs with a read-only root
# file system. docs/container.md has run, compose, health and upgrades;
# scripts/container-test.sh checks this file and runs its build command.

# No FROM --platform=$BUILDPLATFORM: the legacy builder (still what
# `docker build` runs where the buildx plugin is missing, as with Debian 12's
# docker.io) leaves it empty and stops. buildx --platform builds other
# architectures by running this stage under emulation.
FROM golang:1.26 AS build
WORKDIR /src

# Modules first, in their own layer: it is reused until go.mod or go.sum
# change, so editing the source does not download them again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
RUN CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE" \
    -o /out/keyward ./cmd/keyward

# The data directory, made here because the final image has no shell. A new
# named volume mounted on /var/lib/keyward starts with its owner, 65532.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
LABEL org.opencontainers.image.title="keyward" \
      org.opencontainers.image.description="AI gateway that keeps provider keys out of browsers, git history and logs" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$COMMIT" \
      org.opencontainers.image.created="$DATE" \
      org.opencontainers.image.source="https://github.com/keyward/keyward" \
      org.opencontainers.image.url="https://github.com/keyward/keyward" \
      org.opencontainers.image.documentation="https://github.com/keyward/keyward/blob/main/docs/container.md" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"

COPY --from=build /out/keyward /keyward
COPY --from=build --chown=65532:65532 /out/data /var/lib/keyward

# KEYWARD_CONFIG lets `docker exec … /keyward keys create` find the same
# file as serve. SQLite puts the temporary files of large sorts and
# statement journals in SQLITE_TMPDIR (unlinked as soon as they are made):
# with a read-only root there is no writable /tmp, so they go to the volume.
ENV KEYWARD_CONFIG=/etc/keyward/keyward.yaml \
    SQLITE_TMPDIR=/var/lib/keyward

# Numeric, so Kubernetes' runAsNonRoot can check it (the base's "nonroot").
USER 65532:65532
VOLUME ["/var/lib/keyward"]
EXPOSE 8080

# Exec form: the image has no shell. `keyward health` GETs
# $KEYWARD_HEALTH_URL, by default http://127.0.0.1:8080/healthz; set it when
# the configuration listens on another port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/keyward", "health"]

ENTRYPOINT ["/keyward"]
CMD ["serve", "--config", "/etc/keyward/keyward.yaml"]
