#!/usr/bin/env bash
# Builds the codearts_build_exporter container image without pulling from any
# registry: a static binary (CGO_ENABLED=0) and the host's CA bundle are put
# into a fresh build context with the Dockerfile, whose only base is scratch.
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

version=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
branch=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
v=github.com/prometheus/common/version

echo "docker-build.sh: building a static binary ($version)"
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X $v.Version=$version -X $v.Revision=$revision -X $v.Branch=$branch -X $v.BuildUser=docker-build.sh -X $v.BuildDate=$created" \
  -o "$ctx/codearts_build_exporter" .
cp "$ca" "$ctx/ca-certificates.crt"
mkdir "$ctx/state"
cp Dockerfile .dockerignore "$ctx/"

echo "docker-build.sh: docker build -t $tag"
docker build \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$created" \
  -t "$tag" "$ctx"
