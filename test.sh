#!/usr/bin/env bash
# The project's whole test run, the one the README shows and CI runs.
#
# On a fresh Debian machine (as root, with only Go installed) it first installs
# what the tests need from Debian's packages, once and only when missing:
#   prometheus  -> promtool and prometheus (metric lint, rule tests, end to end)
#   docker.io   -> dockerd for the Docker image test
#   ca-certificates -> the CA bundle copied into the image
#   make, git   -> `make build`, the documented build (TestMakeBuildVersion)
#   chromium    -> the real browser the /status page tests drive
#   systemd     -> systemd-analyze, to verify deploy/systemd (optional: where it
#                  cannot be installed, TestSystemdUnit skips and says so)
# then: gofmt check, go vet, go test -race (and the test of the deploy/kubernetes
# module), and scripts/docker-test.sh if present.
# Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

# --- packages -----------------------------------------------------------------
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates) # the image's CA bundle
command -v make >/dev/null 2>&1 || missing+=(make)
command -v git >/dev/null 2>&1 || missing+=(git)
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core) # the /status browser tests (a font for its screenshots)
optional=()
command -v systemd-analyze >/dev/null 2>&1 || optional+=(systemd)
if [ ${#missing[@]} -gt 0 ] || [ ${#optional[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing ${missing[*]} ${optional[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    # Keep package scripts from starting the services they install (a
    # prometheus daemon on :9090, dockerd): tests start their own.
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
    fi
    rc=0
    apt-get update -qq || rc=$?
    if [ $rc -eq 0 ] && [ ${#missing[@]} -gt 0 ]; then
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    fi
    if [ $rc -eq 0 ] && [ ${#optional[@]} -gt 0 ]; then
      apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null ||
        echo "test.sh: WARNING: apt-get install ${optional[*]} failed; the tests that need it skip" >&2
    fi
    [ -n "$made_policy" ] && rm -f "$policy"
    if [ $rc -ne 0 ]; then
      echo "test.sh: apt-get install ${missing[*]} failed (exit $rc)" >&2
      exit $rc
    fi
  else
    echo "test.sh: WARNING: ${missing[*]} ${optional[*]} missing and cannot be installed here (need root and apt-get);" \
      "tests that need them skip, or fail when CI=true" >&2
  fi
fi
if [ "${CI:-}" = true ] && ! command -v promtool >/dev/null 2>&1; then
  echo "test.sh: promtool is required in CI and is still missing" >&2
  exit 1
fi
if [ "${CI:-}" = true ] && [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: /usr/bin/chromium is required in CI and is still missing" >&2
  exit 1
fi

# --- static checks --------------------------------------------------------------
step "gofmt"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t gofiles < <(git ls-files '*.go')
else
  mapfile -t gofiles < <(find . -name '*.go' -not -path './.git/*')
fi
unformatted=$(gofmt -l "${gofiles[@]}")
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi

step "go vet ./..."
go vet ./...

# --- tests ----------------------------------------------------------------------
# The end-to-end tests (e2e/) race a live --demo exporter and a real
# Prometheus against the wall clock (an error spike must be read and alerted on
# within a deadline). Sharing two cores with the other packages' -race tests
# starved them into flaking, so they run alone, after everything else.
step "go test -race (all packages but e2e)"
go test -race -count=1 -timeout=40m $(go list ./... | grep -v '/e2e$')

# deploy/kubernetes is a module of its own (the Kubernetes API types stay out
# of the exporter's go.mod); its test decodes every manifest strictly.
step "deploy/kubernetes: go vet and go test (manifests against the Kubernetes API types)"
(cd deploy/kubernetes && go vet ./... && go test -count=1 ./...)

step "go test -race ./e2e/ (alone: wall-clock bound)"
go test -race -count=1 -timeout=20m ./e2e/

if [ -x scripts/docker-test.sh ]; then
  step "scripts/docker-test.sh"
  scripts/docker-test.sh
elif [ -f scripts/docker-test.sh ]; then
  step "scripts/docker-test.sh"
  bash scripts/docker-test.sh
fi

step "all checks passed"
