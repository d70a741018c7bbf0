#!/usr/bin/env bash
# Install what postgres_extension needs on Debian 12 (as root), then build
# and install it into the PostgreSQL found by PG_CONFIG (default: 15).
# SETUP_BUILD=0 installs the packages only.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR=${PG_MAJOR:-15}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: run as root (it installs packages and the extension)" >&2
	exit 1
fi

packages="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-contrib
	libipc-run-perl make gcc cppcheck ${EXTRA_PACKAGES:-}"
missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "== installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	# shellcheck disable=SC2086
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
fi

[ "${SETUP_BUILD:-1}" = 0 ] && exit 0
echo "== building and installing postgres_extension"
make -s PG_CONFIG="$PG_CONFIG"
make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
