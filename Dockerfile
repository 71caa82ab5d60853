# svcmirror's container image: the `svcmirror` binary only, static, on distroless, as non-root.
#
#   docker build -t svcmirror:0.1.0 .
#
# deploy/deployment.yaml runs it (`image: svcmirror:0.1.0`, args `run …`, runAsUser 65532).
# Checked by `cargo test -p svcmirror-cli --test dockerfile` (docker itself is not needed there).

# --- build: a static (musl) release binary, with exactly the dependencies of Cargo.lock, on the
# toolchain the workspace is tested with (rust-version in Cargo.toml is the minimum).
FROM rust:1.95-alpine AS builder
RUN apk add --no-cache musl-dev gcc
WORKDIR /src
COPY . .
RUN cargo build --locked --release -p svcmirror-cli --bin svcmirror \
 && cp target/release/svcmirror /svcmirror

# --- run: no shell, no package manager, no libc; the `nonroot` user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /svcmirror /usr/local/bin/svcmirror
USER 65532:65532
EXPOSE 9990
ENTRYPOINT ["/usr/local/bin/svcmirror"]
CMD ["--help"]
