#!/usr/bin/env bash
# Builds the codearts_build_exporter container image without pulling from any
# registry: a static binary (`make build`, so it reports the same version as
# any other build) and the host's CA bundle are put into a fresh build context
# with the Dockerfile, whose only base is scratch. Needs make and git.
#
# Usage: scripts/docker-build.sh [IMAGE_TAG]      (default codearts_build_exporter:dev)
# Environment:
#   CA_BUNDLE   CA certificates to put into the image (default /etc/ssl/certs/ca-certificates.crt)
#   GOARCH      target architecture of the binary (default: the host's)
#   DOCKER_HOST as usual for the docker CLI
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-codearts_build_exporter:dev}
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if [ ! -s "$ca" ]; then
  echo "docker-build.sh: CA bundle $ca not found or empty: install the ca-certificates package or set CA_BUNDLE" >&2
  exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

# The version comes from the Makefile, the one place that sets it (make version).
vars=$(make -s --no-print-directory version)
version=$(sed -n 's/^VERSION=//p' <<<"$vars")
revision=$(sed -n 's/^REVISION=//p' <<<"$vars")
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

echo "docker-build.sh: building a static binary ($version)"
make -s --no-print-directory build BIN="$ctx/codearts_build_exporter" CGO_ENABLED=0 \
  VERSION="$version" REVISION="$revision" BUILD_USER=docker-build.sh \
  BUILD_DATE="$(date -u -d "$created" +%Y%m%d-%H:%M:%S)" EXTRA_LDFLAGS='-s -w'
cp "$ca" "$ctx/ca-certificates.crt"
mkdir "$ctx/state"
cp Dockerfile .dockerignore "$ctx/"

echo "docker-build.sh: docker build -t $tag"
docker build \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$created" \
  -t "$tag" "$ctx"
