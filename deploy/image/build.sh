#!/usr/bin/env bash
# Builds the redswitch node image without any container registry.
#
#   base layer  redswitch-base:<hash of packages.txt and this script>
#               Debian 12 minbase + PostgreSQL 15, Patroni, HAProxy (debootstrap, docker import).
#               Slow (a minute or two); rebuilt only when its inputs change.
#   node layer  redswitch-node:<hash of base tag and binary>, also tagged redswitch-node:latest
#               the base plus the static redswitch binary: seconds.
#
# Usage: build.sh BINARY   (BINARY: a static linux redswitch binary)
# Env:   REDSWITCH_MIRROR  Debian mirror for debootstrap (default: deb.debian.org)
#        REDSWITCH_BUILD_DIR scratch space (default: /var/tmp/redswitch-image)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: build.sh BINARY}
mirror=${REDSWITCH_MIRROR:-http://deb.debian.org/debian}
work=${REDSWITCH_BUILD_DIR:-/var/tmp/redswitch-image}

step() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'image build failed at step: %s\n' "$*" >&2; exit 1; }

# run STEP CMD...: runs CMD, and on failure prints the step and the tail of its output.
run() {
  local name=$1; shift
  local log="$work/step.log"
  if ! "$@" >"$log" 2>&1; then
    printf 'image build failed at step: %s\n--- last 40 lines of output ---\n' "$name" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}

command -v docker >/dev/null || fail "docker: the docker command is not installed"
docker info >/dev/null 2>&1 || fail "docker: the Docker daemon is not running or this user may not use it"
[ -x "$bin" ] || fail "binary: $bin is not an executable file (run make build first)"
mkdir -p "$work"

pkgs=$(grep -v -E '^\s*(#|$)' "$here/packages.txt" | tr '\n' ',' | sed 's/,$//')
base_hash=$(cat "$here/packages.txt" "$here/build.sh" | sha256sum | cut -c1-12)
base="redswitch-base:$base_hash"

if docker image inspect "$base" >/dev/null 2>&1; then
  step "base image $base is up to date"
else
  command -v debootstrap >/dev/null || fail "debootstrap: not installed (apt-get install debootstrap)"
  [ "$(id -u)" = 0 ] || fail "debootstrap: must run as root"
  root="$work/rootfs-$base_hash"
  rm -rf "$root"
  step "debootstrap bookworm with $pkgs (a minute or two)"
  start=$(date +%s)
  run "debootstrap" debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$mirror"
  step "trim the rootfs"
  # The package scripts create a default cluster; Patroni creates its own.
  run "trim" chroot "$root" sh -c '
    set -e
    pg_dropcluster 15 main 2>/dev/null || rm -rf /var/lib/postgresql/15/main /etc/postgresql/15/main
    apt-get clean
    rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/info/* /var/cache/debconf/*-old /var/log/*.log
    find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    mkdir -p /data && chown postgres:postgres /data
  '
  step "import $base"
  run "docker import" sh -c "tar -C '$root' -c . | docker import \
      --change 'ENV LANG=C.UTF-8' \
      --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      - '$base'"
  rm -rf "$root"
  step "base image built in $(( $(date +%s) - start )) s"
fi

# Node layer: base + binary. The legacy builder uses the local base image and never pulls.
ctx="$work/node-context"
rm -rf "$ctx"; mkdir -p "$ctx"
cp "$bin" "$ctx/redswitch"
node_hash=$( (echo "$base"; sha256sum < "$bin") | sha256sum | cut -c1-12)
node="redswitch-node:$node_hash"
if docker image inspect "$node" >/dev/null 2>&1; then
  step "node image $node is up to date"
else
  cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY redswitch /usr/local/bin/redswitch
LABEL org.redswitch.image=node org.redswitch.base=$base
ENTRYPOINT ["/usr/local/bin/redswitch", "agent"]
DOCKERFILE
  run "docker build node layer" env DOCKER_BUILDKIT=0 docker build -q -t "$node" "$ctx"
fi
run "tag latest" docker tag "$node" redswitch-node:latest
echo "$node"
