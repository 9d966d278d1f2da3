#!/usr/bin/env bash
# What `mapsrace kernels` and its tests need beyond the rest of bootstrap.sh:
#  1. QEMU 10 (qemu-system-x86_64). Debian 12's QEMU 7.2 crashes 6.12 guests
#     under TCG, so QEMU comes from bookworm-backports: an apt source for
#     bookworm-backports is added (/etc/apt/sources.list.d/mapsrace-backports.sources)
#     with a pin (/etc/apt/preferences.d/mapsrace-backports) that takes only
#     QEMU's own packages (qemu-system-x86, -common, -data, seabios) from it;
#     everything else in backports keeps priority 100, so nothing else is ever
#     pulled from there.
#  2. The 6.1 cloud kernel the guest test boots, fetched once into the cache
#     `mapsrace kernels` uses ($MAPSRACE_CACHE/kernels, else
#     $XDG_CACHE_HOME/mapsrace/kernels, else ~/.cache/mapsrace/kernels) as
#     <package>.vmlinuz, so the tests need no network.
# Does nothing when both are there. Needs root (or sudo) only to install QEMU.
set -euo pipefail

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive

qemu_major() {
    qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p'
}

if [ "$(qemu_major || true)" = "" ] || [ "$(qemu_major)" -lt 10 ]; then
    . /etc/os-release
    if [ "${VERSION_CODENAME:-}" != bookworm ]; then
        echo "kernels-bootstrap: this script installs QEMU 10 from bookworm-backports; this is ${VERSION_CODENAME:-an unknown release}: install QEMU 10 or newer (qemu-system-x86) yourself" >&2
        exit 1
    fi
    echo "kernels-bootstrap: installing QEMU 10 from bookworm-backports (pinned: only QEMU's packages)" >&2
    "${sudo_cmd[@]}" tee /etc/apt/sources.list.d/mapsrace-backports.sources >/dev/null <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    "${sudo_cmd[@]}" tee /etc/apt/preferences.d/mapsrace-backports >/dev/null <<'PINS'
Package: qemu-system-x86 qemu-system-common qemu-system-data seabios
Pin: release n=bookworm-backports
Pin-Priority: 990

Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100
PINS
    "${sudo_cmd[@]}" apt-get update -qq
    policy="$(apt-cache policy qemu-system-x86)"
    if ! grep -q 'bookworm-backports' <<<"$policy"; then
        echo "kernels-bootstrap: bookworm-backports is unreachable or has no qemu-system-x86 (apt-get update above); mapsrace kernels needs QEMU 10" >&2
        exit 1
    fi
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
    major="$(qemu_major || true)"
    if [ "${major:-0}" -lt 10 ]; then
        echo "kernels-bootstrap: QEMU is still ${major:-missing} after the install; mapsrace kernels needs QEMU 10" >&2
        exit 1
    fi
fi

# The newest 6.1 cloud kernel apt knows, as `mapsrace kernels --kernel 6.1` picks it.
if [ -n "${MAPSRACE_CACHE:-}" ]; then cache="$MAPSRACE_CACHE/kernels"
elif [ -n "${XDG_CACHE_HOME:-}" ]; then cache="$XDG_CACHE_HOME/mapsrace/kernels"
else cache="$HOME/.cache/mapsrace/kernels"; fi
package="$(apt-cache search --names-only '^linux-image-6\.1[.-].*-cloud-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -1)"
if [ -z "$package" ]; then
    "${sudo_cmd[@]}" apt-get update -qq
    package="$(apt-cache search --names-only '^linux-image-6\.1[.-].*-cloud-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -1)"
fi
if [ -z "$package" ]; then
    echo "kernels-bootstrap: apt knows no linux-image-6.1...-cloud-amd64-unsigned package (bookworm main/security)" >&2
    exit 1
fi
if [ ! -s "$cache/$package.vmlinuz" ]; then
    echo "kernels-bootstrap: fetching $package into $cache" >&2
    mkdir -p "$cache"
    work="$(mktemp -d "$cache/.download-XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download -qq "$package" 2>/dev/null)
    dpkg-deb --fsys-tarfile "$work"/*.deb | tar -xO --wildcards './boot/vmlinuz-*' > "$work/vmlinuz"
    test -s "$work/vmlinuz"
    mv "$work/vmlinuz" "$cache/$package.vmlinuz"
fi
