#!/bin/sh
# The local base image that tests/test_containers.py builds Dockerfile.example on (BASE=...):
# no registry is reachable here, so no python:3.12-slim to pull. Debian bookworm minbase with
# python3, python3-venv and python3-pip, from the Debian mirror apt already uses, imported into
# podman. Built once: the root is cached as a tar under /var/cache/ecs-credential-probe/ and the
# image stays in podman's storage; later runs take seconds.
#
#   sh tests/containers/base-image.sh        prints the image name when it is there
set -eu
here=$(cd "$(dirname "$0")" && pwd)
IMAGE=${ECP_BASE_IMAGE:-localhost/ecs-credential-probe-base:bookworm}
CACHE=${ECP_CACHE_DIR:-/var/cache/ecs-credential-probe}
TAR=$CACHE/debian-bookworm-python.tar
: "${CONTAINERS_CONF:=$here/containers.conf}"
export CONTAINERS_CONF

if podman image exists "$IMAGE"; then
    echo "$IMAGE"
    exit 0
fi

# The first deb822 stanza (or sources.list line) that serves plain "bookworm" main: the mirror
# (or snapshot) this machine's apt is set up with, reachable where apt is.
mirror() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             {
               uri = ""; ok = 0
               for (i = 1; i <= NF; i++) {
                 if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
                 if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) ok = 1
               }
               if (ok && uri != "") { print uri; exit }
             }' "$f"
    done
    if [ -f /etc/apt/sources.list ]; then
        awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list
    fi
    echo http://deb.debian.org/debian
}

if [ ! -s "$TAR" ]; then
    command -v debootstrap >/dev/null || { echo "base-image: debootstrap is not installed" >&2; exit 1; }
    url=$(mirror | head -n 1)
    mkdir -p "$CACHE"
    root=$(mktemp -d "$CACHE/root.XXXXXX")
    trap 'rm -rf "$root" "$TAR.part"' EXIT
    echo "base-image: debootstrap bookworm from $url" >&2
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip bookworm "$root" "$url" >&2
    # What an image does not need: downloaded packages and lists, device nodes (the runtime
    # makes its own /dev).
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/dev/*
    tar --numeric-owner -C "$root" -cf "$TAR.part" .
    mv "$TAR.part" "$TAR"
    rm -rf "$root"
    trap - EXIT
fi
podman import --change 'CMD ["/bin/bash"]' "$TAR" "$IMAGE" >&2
echo "$IMAGE"
