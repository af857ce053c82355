# Runs podman without a daemon or registry, as /work/shared/notes/containers.md found works here:
# runc with cgroupfs, storage given as flags, host networking only, and a Debian base image made
# locally with debootstrap. Sourced by docker/test.sh and docker/build.sh.
# shellcheck shell=bash

ACTSERVE_DOCKER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ACTSERVE_SOURCE_DIR="$(cd "$ACTSERVE_DOCKER_DIR/.." && pwd)"

# Outside the repository and kept between runs: the base image (a debootstrap takes minutes) and
# the layer cache (the build stage's apt-get takes another minute) are what make a warm run fast.
ACTSERVE_PODMAN_DIR="${ACTSERVE_PODMAN_DIR:-/var/tmp/actserve-podman}"
ACTSERVE_BASE_IMAGE="${ACTSERVE_BASE_IMAGE:-localhost/debian:bookworm}"
ACTSERVE_IMAGE="${ACTSERVE_IMAGE:-localhost/actserve:dev}"

podman_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    sudo -n "$@"
  fi
}

# Writes the podman configuration under ACTSERVE_PODMAN_DIR. Every setting works around something
# that fails on these machines (see containers.md): crun and systemd cgroups are unavailable, root
# cannot raise RLIMIT_NOFILE to podman's default, and the default bridge network would rewrite
# the host's iptables and turn on IP forwarding.
podman_configure() {
  mkdir -p "$ACTSERVE_PODMAN_DIR"/{storage,runroot,tmp}
  cat >"$ACTSERVE_PODMAN_DIR/containers.conf" <<EOF
[containers]
netns = "host"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$ACTSERVE_PODMAN_DIR/tmp"
EOF
}

# podman with this project's storage. The storage is given as flags: a storage.conf makes every
# `podman run` wait 20 s for conmon here.
pm() {
  CONTAINERS_CONF="$ACTSERVE_PODMAN_DIR/containers.conf" podman_as_root podman \
    --root "$ACTSERVE_PODMAN_DIR/storage" --runroot "$ACTSERVE_PODMAN_DIR/runroot" \
    --storage-driver overlay "$@"
}

# Prints the Debian archive URI that apt on this machine uses for bookworm, read from its sources
# at run time so that no mirror host is ever written into the repository.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # deb822: stanzas separated by blank lines; take the URIs of one whose Suites has bookworm.
    awk 'BEGIN { RS = ""; FS = "\n" }
         {
           uris = ""; suites = ""; types = ""; enabled = 1
           for (i = 1; i <= NF; i++) {
             split($i, kv, /:[ \t]*/)
             if (kv[1] == "URIs") uris = substr($i, length(kv[1]) + 2)
             if (kv[1] == "Suites") suites = " " substr($i, length(kv[1]) + 2) " "
             if (kv[1] == "Types") types = " " substr($i, length(kv[1]) + 2) " "
             if (kv[1] == "Enabled" && $i ~ /no/) enabled = 0
           }
           if (enabled && types ~ /[ \t]deb[ \t]/ && suites ~ /[ \t]bookworm[ \t]/) {
             n = split(uris, u, /[ \t]+/)
             for (j = 1; j <= n; j++) if (u[j] != "") { print u[j]; exit }
           }
         }' "$f"
  done
  if [ -r /etc/apt/sources.list ]; then
    # deb [options] URI SUITE COMPONENTS...
    awk '$1 == "deb" {
           i = 2
           if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
           if ($(i + 1) == "bookworm") { print $i; exit }
         }' /etc/apt/sources.list
  fi
}

# Creates ACTSERVE_BASE_IMAGE (Debian bookworm minbase) when the store lacks it. The image gets
# the host's apt sources, so its apt-get reaches the same mirror the host does.
ensure_base_image() {
  if pm image exists "$ACTSERVE_BASE_IMAGE"; then
    return 0
  fi
  local mirror
  mirror="$(debian_mirror | head -n 1)"
  if [ -z "$mirror" ]; then
    echo "error: no Debian bookworm mirror found in this machine's apt sources" >&2
    return 1
  fi
  echo "== creating $ACTSERVE_BASE_IMAGE with debootstrap from $mirror (takes a few minutes)"
  local rootfs="$ACTSERVE_PODMAN_DIR/tmp/rootfs.$$"
  podman_as_root rm -rf "$rootfs"
  if ! podman_as_root debootstrap --variant=minbase bookworm "$rootfs" "$mirror" \
      >"$ACTSERVE_PODMAN_DIR/tmp/debootstrap.log" 2>&1; then
    tail -n 30 "$ACTSERVE_PODMAN_DIR/tmp/debootstrap.log" >&2
    podman_as_root rm -rf "$rootfs"
    return 1
  fi
  podman_as_root rm -f "$rootfs/etc/apt/sources.list"
  podman_as_root mkdir -p "$rootfs/etc/apt/sources.list.d"
  # The host's Debian sources; third-party ones (their keys are not in the image) name other
  # suites than bookworm*, and are left out.
  local src
  for src in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    if [ -r "$src" ] && grep -Eq '^[^#]*[[:space:]]bookworm' "$src"; then
      podman_as_root cp "$src" "$rootfs$src"
    fi
  done
  # Only the validity setting, not the whole apt.conf.d: a snapshot mirror's Release files are
  # past their Valid-Until date, and other host settings are none of the image's business.
  local valid
  valid="$(grep -rhs 'Check-Valid-Until' /etc/apt/apt.conf /etc/apt/apt.conf.d/ | head -n 1 || true)"
  if [ -n "$valid" ]; then
    echo "$valid" | podman_as_root tee "$rootfs/etc/apt/apt.conf.d/99check-valid-until" >/dev/null
  fi
  podman_as_root find "$rootfs/var/lib/apt/lists" "$rootfs/var/cache/apt" -type f -delete
  local imported=0
  podman_as_root tar -C "$rootfs" -c . |
    pm import --change 'CMD ["/bin/bash"]' - "$ACTSERVE_BASE_IMAGE" \
      >>"$ACTSERVE_PODMAN_DIR/tmp/debootstrap.log" 2>&1 || imported=$?
  podman_as_root rm -rf "$rootfs"
  if [ "$imported" -ne 0 ]; then
    tail -n 20 "$ACTSERVE_PODMAN_DIR/tmp/debootstrap.log" >&2
    return 1
  fi
}

# Builds ACTSERVE_IMAGE from the working tree. The docker format keeps HEALTHCHECK, which the
# OCI image format has no field for (podman drops it with a warning).
build_image() {
  pm build --format docker --network host --isolation oci \
    --build-arg "BASE=$ACTSERVE_BASE_IMAGE" \
    -f "$ACTSERVE_DOCKER_DIR/Dockerfile" -t "$ACTSERVE_IMAGE" "$@" "$ACTSERVE_SOURCE_DIR"
}
