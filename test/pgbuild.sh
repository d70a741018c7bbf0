#!/usr/bin/env bash
# Build one PostgreSQL major version from Debian's source package, as root,
# into a cache directory outside the checkout, and print the path of its
# pg_config.  A later call for the same source version (and flavour) reuses
# the build.
#
# Usage: bash test/pgbuild.sh MAJOR [cassert]
#   MAJOR    13, 15, 17 or 18 (the suites that carry it: bullseye, bookworm,
#            trixie, sid; 14 and 16 have no source package in Debian's
#            current suites)
#   cassert  configure with --enable-cassert --enable-debug
# Environment: PGBUILD_CACHE (default /var/cache/postgres_extension-pg).
# Exit status: 0 built or cached, 3 the source package cannot be downloaded
# (its files are missing from the archive), 1 any other failure.
#
# The source comes from apt-get source --download-only with deb-src entries
# of its own, one private apt state per suite (nothing is added to the
# system's apt configuration); the build is the .orig tarball configured
# --without-readline --without-zlib --without-icu --enable-tap-tests,
# installed with contrib/pg_stat_statements and the TAP framework of its own
# tree (src/test/perl).  Concurrent calls on one cache wait for each other.
# Progress goes to stderr, the pg_config path alone to stdout.
set -euo pipefail

major=${1:?usage: pgbuild.sh MAJOR [cassert]}
flavour=${2:-}
cache=${PGBUILD_CACHE:-/var/cache/postgres_extension-pg}

case "$major" in
	13) suite=bullseye ;;
	15) suite=bookworm ;;
	17) suite=trixie ;;
	18) suite=sid ;;
	*) echo "pgbuild.sh: no Debian source package for PostgreSQL $major" >&2; exit 2 ;;
esac
case "$flavour" in
	'') ;;
	cassert) ;;
	*) echo "pgbuild.sh: unknown flavour '$flavour'" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
	echo "pgbuild.sh: run as root (it installs build dependencies)" >&2
	exit 1
fi

log() { echo "pgbuild: $*" >&2; }

mkdir -p "$cache"
# One build at a time per cache: a second caller waits, then finds the
# build done.
exec 9> "$cache/.lock"
flock 9

# A private apt state with the deb-src line of one suite.  apt-get update
# drops the index files of every source it was not given, so each suite
# has its own lists directory.
apt_dir=$cache/apt/$suite
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo "deb-src http://deb.debian.org/debian $suite main" > "$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
	-o APT::Sandbox::User=root)

# The exact source version decides the cache key.  Refresh the index at most
# once a day; when the archive cannot be reached, fall back to a finished
# build of this major.
index_age=$(( $(date +%s) - $(stat -c %Y "$apt_dir/lists/.stamp" 2>/dev/null || echo 0) ))
if [ "$index_age" -gt 86400 ]; then
	if apt-get "${apt_opts[@]}" -qq update >&2; then
		touch "$apt_dir/lists/.stamp"
	else
		log "apt-get update failed for $suite"
	fi
fi
version=$(apt-cache "${apt_opts[@]}" showsrc "postgresql-$major" 2>/dev/null |
	sed -n 's/^Version: \([0-9.]*\).*/\1/p' | sort -V | tail -n 1)
if [ -z "$version" ]; then
	prefix=$(find "$cache" -maxdepth 1 -name "pg-$major.*${flavour:+-$flavour}" | sort -V | tail -n 1)
	if [ -n "$prefix" ] && [ -f "$prefix/.complete" ]; then
		log "no source index for $major; using $prefix"
		echo "$prefix/bin/pg_config"
		exit 0
	fi
	log "no source package postgresql-$major in $suite"
	exit 1
fi
prefix=$cache/pg-$version${flavour:+-$flavour}
if [ -x "$prefix/bin/pg_config" ] && [ -f "$prefix/.complete" ]; then
	log "PostgreSQL $version${flavour:+ ($flavour)} cached in $prefix"
	echo "$prefix/bin/pg_config"
	exit 0
fi

src_dir=$cache/src
mkdir -p "$src_dir"
tarball=$(find "$src_dir" -maxdepth 1 -name "postgresql-${major}_$version.orig.tar.*" | head -n 1)
if [ -z "$tarball" ]; then
	log "downloading postgresql-$major $version from $suite"
	if ! (cd "$src_dir" && apt-get "${apt_opts[@]}" -qq source --download-only "postgresql-$major" >&2)
	then
		log "the files of postgresql-$major $version cannot be downloaded from $suite"
		exit 3
	fi
	tarball=$(find "$src_dir" -maxdepth 1 -name "postgresql-${major}_$version.orig.tar.*" | head -n 1)
	[ -n "$tarball" ] || { log "no .orig tarball downloaded"; exit 1; }
fi

# Build dependencies (17 and later generate their parser with bison/flex
# only when the tarball lacks the output; installing them is cheap).
need=""
for p in build-essential bison flex perl libipc-run-perl bzip2 xz-utils; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	log "installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
	# shellcheck disable=SC2086
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $need >/dev/null
fi

build=$(mktemp -d "/tmp/pgbuild-$major.XXXXXX")
trap 'rm -rf "$build"' EXIT
log "building PostgreSQL $version${flavour:+ ($flavour)} into $prefix (log: $build/build.log)"
tar -xf "$tarball" -C "$build"
cd "$build"/postgresql-*/
conf=(--prefix="$prefix" --without-readline --without-zlib --without-icu --enable-tap-tests)
[ "$flavour" = cassert ] && conf+=(--enable-cassert --enable-debug)
rm -rf "$prefix"
jobs=$(nproc)
if ! { ./configure "${conf[@]}" &&
	make -j"$jobs" &&
	make -j"$jobs" -C contrib/pg_stat_statements &&
	make install &&
	make -C contrib/pg_stat_statements install &&
	make -C src/test/perl install; } > "$build/build.log" 2>&1
then
	tail -n 40 "$build/build.log" >&2
	log "build of $version failed"
	exit 1
fi
touch "$prefix/.complete"
log "built PostgreSQL $version${flavour:+ ($flavour)}"
echo "$prefix/bin/pg_config"
