# syntax=docker/dockerfile:1
#
# The sealant-controller image: one static (musl) binary on distroless/static, run as 65532:65532.
#
#   docker build -t ghcr.io/sealant-dev/sealant-controller:0.1.0 .
#
# docs/install.md describes the build, arm64, and pinning the result by digest.

# --- build ---------------------------------------------------------------------------------------
# The Rust release must satisfy rust-version in Cargo.toml. Pin the base by digest in release
# pipelines (rust:1.95-bookworm@sha256:...).
ARG RUST_VERSION=1.95
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build

# x86_64-unknown-linux-musl gives a static binary that needs no libc in the final image. For arm64,
# build on an arm64 builder with --build-arg TARGET=aarch64-unknown-linux-musl.
ARG TARGET=x86_64-unknown-linux-musl

# ring compiles C and assembly; for a musl target its build script uses musl-gcc from Debian's
# musl-tools. The Debian release in the base tag pins the package version.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/*
RUN rustup target add "${TARGET}"

WORKDIR /src
# The whole workspace: cargo needs every member's manifest (shared/, cli/, controller/, tests/)
# even to build one package. .dockerignore keeps target/ and .git out.
COPY . .

# --locked: build exactly what Cargo.lock says, fail if it is stale. The cache mounts keep the
# registry and target/ between builds; since target/ is then not part of the layer, the binary is
# copied out to /out, from the path cargo writes it to: target/<triple>/release/<bin name>.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target "${TARGET}" -p sealant-controller \
    && install -D -m 0755 "target/${TARGET}/release/sealant-controller" /out/sealant-controller

# --- runtime -------------------------------------------------------------------------------------
# distroless/static: CA certificates, /etc/passwd with the nonroot user 65532, tzdata; no shell, no
# package manager. Pin by digest in release pipelines.
FROM gcr.io/distroless/static-debian12:nonroot

LABEL org.opencontainers.image.title="sealant-controller" \
      org.opencontainers.image.description="Unseals sealant SealedSecrets into Kubernetes Secrets" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=build /out/sealant-controller /usr/local/bin/sealant-controller

# Numeric, so that Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/sealant-controller"]
