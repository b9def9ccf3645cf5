#!/usr/bin/env bash
# Tests the container image for real: builds it (scripts/docker-build.sh, no
# registry needed), checks what the image declares (non-root user, exposed
# port, entrypoint and default command, OCI labels and the version the binary
# reports, the files inside), runs
# it with --demo and reads /metrics from it, checks that the default command
# fails clearly without a config file, then removes everything it made.
#
# Docker daemon: an already running one is used (DOCKER_HOST or the default
# socket). Otherwise the script starts its own dockerd (Debian package
# docker.io) on a private socket and data directory, without bridge or
# iptables changes (containers use --network host and bind to 127.0.0.1),
# with the overlay2 storage driver or, where overlay mounts fail, vfs; and
# stops it at the end.
#
# Where no daemon can run, it says so loudly and exits 0, except with
# CI=true, where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'docker-test.sh: %s\n' "$*"; }
die() { printf 'docker-test.sh: FAIL: %s\n' "$*" >&2; exit 1; }

cannot_run() {
  if [ "${CI:-}" = true ]; then
    die "$* (CI=true: the Docker test must run here)"
  fi
  printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
  printf '!!! docker-test.sh: SKIPPED, NOT TESTED: %s\n' "$*" >&2
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
  exit 0
}

# Lint first: it needs no daemon. dockerfilelint comes from the npm registry.
if command -v npx >/dev/null 2>&1; then
  lint=$(npx --yes dockerfilelint Dockerfile 2>&1) || die "npx dockerfilelint Dockerfile:
$lint"
  case "$lint" in
    *"Issues: None found"*) log "dockerfilelint: no issues" ;;
    *) die "npx dockerfilelint Dockerfile reports issues:
$lint" ;;
  esac
else
  cannot_run "no npx (Node.js) for dockerfilelint"
fi

command -v docker >/dev/null 2>&1 || cannot_run "no docker CLI (apt-get install docker.io)"

work=$(mktemp -d /tmp/codearts-docker.XXXXXX)
tag="codearts_build_exporter:test-$$"
container=""
started_daemon=""

cleanup() {
  set +e
  if [ -n "$container" ]; then docker rm -f -v "$container" >/dev/null 2>&1; fi
  docker rm -f -v "codearts-noconfig-$$" >/dev/null 2>&1
  docker rmi -f "$tag" >/dev/null 2>&1
  if [ -n "$started_daemon" ] && [ -s "$work/dockerd.pid" ]; then
    pid=$(cat "$work/dockerd.pid")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null
  fi
  # Mounts the daemon may leave under its directories (network namespaces, layers).
  if [ -r /proc/mounts ]; then
    awk -v w="$work" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  fi
  rm -rf "$work" 2>/dev/null
}
trap cleanup EXIT

# --- a daemon --------------------------------------------------------------------
start_dockerd() { # $1: extra dockerd flags
  rm -rf "$work/data" "$work/exec"
  # shellcheck disable=SC2086
  dockerd --host "unix://$work/docker.sock" --data-root "$work/data" --exec-root "$work/exec" \
    --pidfile "$work/dockerd.pid" --bridge=none --iptables=false --ip-masq=false $1 \
    >"$work/dockerd.log" 2>&1 &
  started_daemon=1
  export DOCKER_HOST="unix://$work/docker.sock"
  for _ in $(seq 1 60); do
    if docker version >/dev/null 2>&1; then return 0; fi
    if ! kill -0 $! 2>/dev/null; then break; fi
    sleep 0.5
  done
  log "dockerd $1 did not come up; its log:"
  tail -n 15 "$work/dockerd.log" >&2 || true
  kill "$!" 2>/dev/null || true
  wait "$!" 2>/dev/null || true
  return 1
}

if docker version >/dev/null 2>&1; then
  log "using the running Docker daemon ($(docker version --format '{{.Server.Version}}'))"
else
  command -v dockerd >/dev/null 2>&1 || cannot_run "no Docker daemon running and no dockerd to start (apt-get install docker.io)"
  [ "$(id -u)" = 0 ] || cannot_run "no Docker daemon running, and starting one needs root"
  log "no Docker daemon running: starting a private dockerd in $work"
  if ! start_dockerd "" && ! start_dockerd "--storage-driver=vfs"; then
    cannot_run "dockerd cannot start on this machine (see its log above)"
  fi
  log "dockerd $(docker version --format '{{.Server.Version}}') up, storage driver $(docker info --format '{{.Driver}}')"
fi

# --- build -----------------------------------------------------------------------
scripts/docker-build.sh "$tag"

# --- what the image declares -------------------------------------------------------
inspect() { docker image inspect --format "$1" "$tag"; }
user=$(inspect '{{.Config.User}}')
[ "$user" = "65534:65534" ] || die "image user is '$user', want 65534:65534 (non-root)"
# shellcheck disable=SC2016 # a Go template, not a shell expansion
ports=$(inspect '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')
[[ "$ports" == *"19876/tcp"* ]] || die "image exposes '$ports', want 19876/tcp (the default listen port)"
entry=$(inspect '{{json .Config.Entrypoint}}')
[ "$entry" = '["/bin/codearts_build_exporter"]' ] || die "entrypoint $entry"
cmd=$(inspect '{{json .Config.Cmd}}')
[[ "$cmd" == *'--config.file=/etc/codearts_build_exporter/codearts_build_exporter.yml'* ]] || die "default command $cmd has no --config.file"
for label in title source version revision created; do
  value=$(inspect "{{index .Config.Labels \"org.opencontainers.image.$label\"}}")
  if [ -z "$value" ] || [ "$value" = unknown ]; then die "OCI label org.opencontainers.image.$label is '$value'"; fi
done
# The binary reports the version and revision the labels carry (both from make).
revision=$(inspect '{{index .Config.Labels "org.opencontainers.image.revision"}}')
version=$(inspect '{{index .Config.Labels "org.opencontainers.image.version"}}')
reported=$(docker run --rm --network host "$tag" --version 2>&1) || die "--version failed: $reported"
grep -Fq "version $version (" <<<"$reported" && grep -Fq "revision: $revision)" <<<"$reported" ||
  die "the binary reports '$reported', the labels say version $version, revision $revision"
size=$(inspect '{{.Size}}')
[ "$size" -lt $((60 * 1024 * 1024)) ] || die "image is $size bytes: more than a static binary and a CA bundle"
log "image $tag: user $user, port $ports, entrypoint $entry, cmd $cmd, $((size / 1024 / 1024)) MiB"

docker create --name "codearts-noconfig-$$" "$tag" >/dev/null
files=$(docker export "codearts-noconfig-$$" | tar --numeric-owner -tvf -)
docker rm -v "codearts-noconfig-$$" >/dev/null
grep -q ' etc/ssl/certs/ca-certificates.crt$' <<<"$files" || die "no CA bundle in the image"
grep -q ' bin/codearts_build_exporter$' <<<"$files" || die "no binary in the image"
grep -Eq '^d.* 65534/65534 .* var/lib/codearts_build_exporter/?$' <<<"$files" || die "state directory missing or not owned by 65534: $(grep var/lib <<<"$files")"

# --- the default command wants a config file and says which -------------------------
set +e
out=$(docker run --rm --network host "$tag" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] || die "the default command ran without a config file: $out"
grep -q '/etc/codearts_build_exporter/codearts_build_exporter.yml' <<<"$out" || die "without a config file the error does not name it (exit $rc): $out"
log "default command without a config file: exit $rc, names /etc/codearts_build_exporter/codearts_build_exporter.yml"

# --- run the demo and read /metrics -------------------------------------------------
port=""
for p in $(seq 29876 29976); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || die "no free port in 29876-29976"

http_get() { # $1: URL path; prints the body
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 5 "http://127.0.0.1:$port$1"
  else
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
    sed '1,/^\r$/d' <&3
    exec 3<&-
  fi
}

container="codearts-demo-$$"
docker run -d --name "$container" --network host "$tag" \
  --demo --web.listen-address="127.0.0.1:$port" \
  --state.file=/var/lib/codearts_build_exporter/state.json >/dev/null
log "container $container running --demo on 127.0.0.1:$port"

metrics=""
for _ in $(seq 1 60); do
  if [ "$(docker inspect --format '{{.State.Running}}' "$container")" != true ]; then
    docker logs "$container" >&2 || true
    die "the container stopped"
  fi
  metrics=$(http_get /metrics 2>/dev/null || true)
  if grep -q '^codearts_build_log_records_total{' <<<"$metrics" && grep -q '^codearts_exporter_state_writes_total [1-9]' <<<"$metrics"; then
    break
  fi
  sleep 0.5
done
grep -q '^codearts_build_log_records_total{' <<<"$metrics" || { docker logs "$container" 2>&1 | tail -n 20 >&2; die "no codearts_build_log_records_total on /metrics after 30 s"; }
grep -q '^codearts_exporter_state_writes_total [1-9]' <<<"$metrics" || die "the state file was never written (is /var/lib/codearts_build_exporter writable by 65534?)"
jobs=$(grep -c '^codearts_build_job_info{' <<<"$metrics" || true)
[ "$jobs" = 4 ] || die "codearts_build_job_info has $jobs series, want the demo's 4 jobs"
bytes1=$(awk '/^codearts_build_log_bytes_total\{/ { s += $2 } END { printf "%.0f", s }' <<<"$metrics")
sleep 5
bytes2=$(http_get /metrics | awk '/^codearts_build_log_bytes_total\{/ { s += $2 } END { printf "%.0f", s }')
[ "$bytes2" -gt "$bytes1" ] || die "codearts_build_log_bytes_total did not grow in 5 s ($bytes1 -> $bytes2)"
log "/metrics from the container: $jobs jobs, $(grep -c '^codearts_build_log_records_total{' <<<"$metrics") record series, log bytes $bytes1 -> $bytes2 in 5 s, state file written as 65534"

docker stop -t 10 "$container" >/dev/null
rc=$(docker inspect --format '{{.State.ExitCode}}' "$container")
[ "$rc" = 0 ] || { docker logs "$container" 2>&1 | tail -n 20 >&2; die "the exporter exited $rc on SIGTERM"; }
log "SIGTERM: clean exit"
log "PASS"
