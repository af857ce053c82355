#!/bin/sh
# Usage: collect-runtime.sh ROOTFS BINARY...
#
# Assembles the whole filesystem of the runtime image under ROOTFS: the binaries in
# /usr/local/bin, every shared library they load (as the dynamic linker resolves them in this
# build stage, so the versions are exactly those they were linked against), /bin/sh for the
# HEALTHCHECK, and an unprivileged user. Runs in the Dockerfile's build stage.
#
# Why not `apt-get install libgrpc++1.51 ...` on a Debian base: package dependencies bring in a
# whole distribution (base image 121 MB, 240 MB with gRPC) where the binaries and the libraries
# they load take ~27 MB. The price: no package database in the image, so scanners that read one see
# nothing; rebuild the image to pick up Debian's security updates.
set -eu

rootfs=$1
shift

mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/bin" "$rootfs/usr/lib" "$rootfs/etc" \
  "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
# The merged-/usr layout of Debian bookworm, so that library paths and the ELF interpreter path
# (/lib64/ld-linux-x86-64.so.2) resolve as they did where the binaries were linked.
for dir in bin lib lib64 sbin; do
  if [ -L "/$dir" ]; then
    ln -s "$(readlink "/$dir")" "$rootfs/$dir"
    mkdir -p "$rootfs/usr/$dir"
  fi
done

for binary in "$@"; do
  install -m 0755 -s "$binary" "$rootfs/usr/local/bin/"
done
# dash, not bash: the HEALTHCHECK script needs only POSIX sh, and dash needs nothing but libc.
install -m 0755 /bin/dash "$rootfs/usr/bin/dash"
ln -s dash "$rootfs/usr/bin/sh"

# Lines of ldd look like "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)", or
# "/lib64/ld-linux-x86-64.so.2 (0x...)" for the interpreter; given several files, ldd heads
# each file's list with a "/path/to/file:" line. A library that is not found fails
# the build here rather than the container at start-up.
libraries=$(ldd "$rootfs"/usr/local/bin/* /bin/dash | awk '
  /:$/ { next }
  /not found/ { print "missing:" $1; next }
  $2 == "=>" && $3 ~ /^\// { print $3 }
  $1 ~ /^\// { print $1 }' | sort -u)
case "$libraries" in
  *missing:*)
    echo "collect-runtime: unresolved libraries: $libraries" >&2
    exit 1
    ;;
esac
for library in $libraries; do
  # --parents keeps the directory as ldd printed it (through the symlinks made above); -L copies
  # the file itself where the soname is a symlink to a versioned file.
  cp -L --parents "$library" "$rootfs"
done
# A loader cache, so that lookups do not depend on the loader's built-in search path.
ldconfig -r "$rootfs"

# The user the server runs as. Numeric in the Dockerfile (USER 10001) so that Kubernetes'
# runAsNonRoot can verify it without reading /etc/passwd.
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
actserve:x:10001:10001:actserve:/nonexistent:/usr/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
actserve:x:10001:
EOF
# Name resolution for gRPC targets such as dns:///host:port goes through glibc's NSS.
if [ -f /etc/nsswitch.conf ]; then
  cp /etc/nsswitch.conf "$rootfs/etc/nsswitch.conf"
fi
