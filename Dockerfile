# syntax=docker/dockerfile:1
#
# The Latchkey server image: one static binary on distroless (no shell, no
# package manager), running as an unprivileged user. docs/deploy.md runs it.
#
#   docker build -t latchkey \
#     --build-arg VERSION=1.2.3 --build-arg COMMIT="$(git rev-parse HEAD)" \
#     --build-arg DATE="$(git log -1 --format=%cI)" .
#   docker run -e LATCHKEY_ISSUER=https://auth.example.com -p 127.0.0.1:8080:8080 \
#     -v latchkey:/var/lib/latchkey latchkey
#
# The build runs scripts/release, so the image's binary is built exactly as
# the released ones are (static, -trimpath, stamped), for the platform the
# image is for; docker buildx build --platform linux/amd64,linux/arm64
# cross-compiles both on the build machine.

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
RUN PLATFORMS="${TARGETOS:-linux}/${TARGETARCH:-amd64}" DIST=/out \
      VERSION="$VERSION" COMMIT="$COMMIT" DATE="$DATE" ./scripts/release \
 && mv /out/latchkey-*-"${TARGETOS:-linux}-${TARGETARCH:-amd64}" /out/latchkey \
 && mkdir /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latchkey /usr/local/bin/latchkey
# The SQLite database's directory, the nonroot user's (65532): a new volume
# mounted here starts with this owner.
COPY --from=build --chown=65532:65532 /out/data /var/lib/latchkey
USER 65532:65532
WORKDIR /var/lib/latchkey
# Every interface of the container: the issuer must then be set
# (LATCHKEY_ISSUER, or issuer: in the configuration), or serve refuses to
# start. The default database is sqlite:latchkey.db in /var/lib/latchkey.
ENV LATCHKEY_LISTEN=0.0.0.0:8080
EXPOSE 8080
VOLUME /var/lib/latchkey
# distroless has no curl or wget: the binary asks itself (GET /healthz on
# LATCHKEY_LISTEN). serve may wait up to a minute for its database at start.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/latchkey", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
