#!/usr/bin/env bash
# Install, as root on Debian 12, the real clients and the pooler that the
# TAP tests test/t/07x_*.pl drive: PgBouncer and the Python drivers and ORMs
# from Debian's packages, the node drivers from the npm registry at the
# versions pinned in node/package-lock.json.  The node modules go to a cache
# outside the checkout, one directory per lock file, reused when present:
#   ${PGXT_NPM_DIR:-/var/cache/postgres_extension-npm}/<hash>/node_modules
# (ClientTest.pm finds it the same way).  A package that cannot be installed
# is reported here and its client is skipped by its test; this script never
# fails the suite.
set -uo pipefail
cd "$(dirname "$0")" || exit 0

debs="pgbouncer python3-psycopg python3-psycopg2 python3-django python3-sqlalchemy"
command -v node >/dev/null || debs="$debs nodejs"
command -v npm >/dev/null || debs="$debs npm"
missing=""
for p in $debs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "== installing for the client tests:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt="apt-get -o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends"
	apt-get -o DPkg::Lock::Timeout=600 update -qq || true
	# shellcheck disable=SC2086
	if ! $apt install $missing >/dev/null; then
		# one at a time, so that one package that fails spares the others
		for p in $missing; do
			$apt install "$p" >/dev/null || echo "client tests: cannot install $p; its tests will be skipped" >&2
		done
	fi
fi

if ! command -v npm >/dev/null; then
	echo "client tests: no npm; the node clients will be skipped" >&2
	exit 0
fi
base=${PGXT_NPM_DIR:-/var/cache/postgres_extension-npm}
hash=$(sha256sum node/package-lock.json | cut -c1-16)
dir="$base/$hash"
if [ ! -d "$dir/node_modules" ]; then
	echo "== installing the node clients into $dir"
	mkdir -p "$base"
	tmp=$(mktemp -d "$base/.new.XXXXXX")
	cp node/package.json node/package-lock.json "$tmp/"
	# --ignore-scripts: no package used here needs its install script
	# (grpc, pulled in by a peer dependency of sqlcommenter-knex and never
	# loaded, would try to download a prebuilt binary)
	if (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null); then
		chmod -R a+rX "$tmp"
		mv "$tmp" "$dir" || rm -rf "$tmp"
	else
		echo "client tests: npm ci failed; the node clients will be skipped" >&2
		rm -rf "$tmp"
	fi
fi
exit 0
