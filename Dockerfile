# hcbridge and hcrelay on Debian 12 (bookworm-slim). See docs/docker.md.
#
#   docker build -t hcbridge:0.1.0 .
#   docker run -d --env-file docker/hcbridge.env --network NET hcbridge:0.1.0 -T web:backend:80      # listener
#   docker run -d --env-file docker/hcbridge.env -p 127.0.0.1:8080:8080 hcbridge:0.1.0 -L 0.0.0.0:8080:web  # sender
#
# Stage "build" compiles a Release build and runs the unit tests, so a broken build never becomes an image.
# Stage "runtime" (the default, last stage) holds only the two binaries, their shared libraries and CA certificates,
# and runs as the non-root user hcbridge (UID/GID 10001). No secrets are baked in: pass them at run time.

FROM debian:bookworm-slim AS build

# Parallel compile jobs; each C++ job can take about 1 GB of memory.
ARG JOBS=2

# The packages of scripts/setup.sh except nodejs, npm and systemd, which only other tests use (tests/docker checks
# that the lists agree).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config ca-certificates \
        libasio-dev libwebsocketpp-dev libssl-dev rapidjson-dev libspdlog-dev libcli11-dev catch2 \
        openssl curl netcat-openbsd procps iproute2 \
    && rm -rf /var/lib/apt/lists/*

# What CMake reads (tests/docker checks that a configure of exactly these files works and defines every target).
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY src/ src/
COPY tests/ tests/

RUN cmake -S /src -B /src/build -DCMAKE_BUILD_TYPE=Release \
    && cmake --build /src/build -j"${JOBS}" \
    && ctest --test-dir /src/build -L unit --output-on-failure -j"${JOBS}"

# What the runtime stage takes: stripped binaries and the entrypoint, with their modes set here (independent of the
# build host's checkout).
COPY docker/entrypoint.sh /src/docker/entrypoint.sh
RUN mkdir -p /out \
    && install -m 0755 -s /src/build/src/hcbridge /out/hcbridge \
    && install -m 0755 -s /src/build/src/hcrelay /out/hcrelay \
    && install -m 0755 /src/docker/entrypoint.sh /out/hcbridge-entrypoint


FROM debian:bookworm-slim AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown

LABEL org.opencontainers.image.title="hcbridge" \
      org.opencontainers.image.description="Forwards TCP ports through Azure Relay Hybrid Connections (azbridge-compatible); includes hcrelay, a local relay" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

# Run-time libraries only (names checked against the binaries by tests/docker); ca-certificates for sb:// and wss://.
# The user has a fixed UID/GID so mounted key files can be chowned to it: chown 10001:10001 relay.key.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates libssl3 libspdlog1.10 libfmt9 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 hcbridge \
    && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin hcbridge \
    && mkdir -p /etc/hcbridge

COPY --from=build /out/hcbridge /out/hcrelay /out/hcbridge-entrypoint /usr/local/bin/
COPY config/hcbridge.example.json /usr/share/doc/hcbridge/hcbridge.example.json

# The admin endpoint (/healthz, /readyz, /metrics) that the HEALTHCHECK asks; the entrypoint passes it as --admin.
# In a shared network namespace (sidecar) pick a port the application does not use.
ENV HCBRIDGE_ADMIN=127.0.0.1:9090

# Nothing is exposed by default: publish the ports of your -L forwards (bind them to 0.0.0.0 inside the container).
USER 10001:10001
WORKDIR /etc/hcbridge

# Config: mount a file at /etc/hcbridge/hcbridge.json (used when present), or use environment variables
# (HCBRIDGE_CONNECTION_STRING, HCBRIDGE_ARGS) and/or arguments (-L/-T forwards). See docs/docker.md.
ENTRYPOINT ["/usr/local/bin/hcbridge-entrypoint"]
CMD []

# hcbridge's own health probe (no curl in the image); it reads HCBRIDGE_ADMIN. hcrelay containers: disable it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["hcbridge", "healthcheck", "--timeout", "3"]
