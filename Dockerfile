# syntax=docker/dockerfile:1
# tradehook container: build with cargo-chef so dependencies are cached in their own
# layer, run as a non-root user with the database on a volume.
#
#   docker build -t tradehook .
#   docker run -p 8080:8080 -v tradehook-data:/data \
#     -v $PWD/tradehook.toml:/etc/tradehook.toml:ro -e TRADEHOOK_CONFIG=/etc/tradehook.toml \
#     tradehook

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked
WORKDIR /build

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin tradehook

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin tradehook \
 && mkdir -p /data && chown tradehook:tradehook /data
COPY --from=builder /build/target/release/tradehook /usr/local/bin/tradehook

# The container listens on all interfaces; TLS is terminated by the proxy in front
# of it (set TRADEHOOK_SERVER__BEHIND_TLS_PROXY=false only with your own TLS setup).
ENV TRADEHOOK_SERVER__LISTEN=0.0.0.0:8080 \
    TRADEHOOK_SERVER__BEHIND_TLS_PROXY=true \
    TRADEHOOK_DATABASE__URL=sqlite:///data/tradehook.db \
    RUST_LOG=info

USER tradehook
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["tradehook", "healthcheck"]
ENTRYPOINT ["tradehook", "--log-format", "json"]
CMD ["serve"]
