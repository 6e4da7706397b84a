#!/usr/bin/env bash
# Install the Debian packages prestack needs; quiet no-op when all are there.
set -euo pipefail

# --paper: the LaTeX that `make paper` needs instead (about 30 s to install
# on a fresh machine: kept out of the default set so demo and test do not pay)
if [ "${1:-}" = --paper ]; then
	PKGS=(latexmk texlive-latex-base texlive-latex-recommended texlive-fonts-recommended)
fi

[ -n "${PKGS+x}" ] || PKGS=(clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libhiredis-dev
      libpcap-dev redis-server redis-tools python3-redis python3-scapy
      python3-matplotlib tcpdump tshark tcpreplay nftables ethtool iproute2
      jq gcc make libclang-rt-dev groff-base man-db linux-perf)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done

if ((${#missing[@]})); then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing ${missing[*]}; run as root (sudo make deps)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		debconf-set-selections
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Debian starts a system redis on install: stop only what apt started
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q redis-server 2>/dev/null; then
		systemctl stop redis-server || true
	fi
fi

if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
exit 0
