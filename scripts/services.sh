#!/usr/bin/env bash
# Make sure PostgreSQL and Redis are running on this machine, then create the
# named databases when they are missing.  Idempotent: safe to run repeatedly.
#
#   bash scripts/services.sh [DBNAME...]     (default: portico)
#
# Env: PGHOST (default 127.0.0.1), PGPORT (5432), PGUSER (postgres),
#      REDIS_HOST (127.0.0.1), REDIS_PORT (6379).
set -euo pipefail

PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
REDIS_HOST="${REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6379}"
export PGHOST PGPORT PGUSER

log() { echo "services: $*"; }
die() { echo "services: ERROR: $*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }

APT_UPDATED=0
apt_install() {
	if ! is_root || ! have apt-get; then
		return 1
	fi
	if [ "$APT_UPDATED" -eq 0 ]; then
		log "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		APT_UPDATED=1
	fi
	log "apt-get install -y $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# wait_for NAME CMD...: poll CMD for up to ~30 s.
wait_for() {
	local name="$1"; shift
	local i
	for i in $(seq 1 60); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

# ---------------------------------------------------------------- PostgreSQL

pg_ready() { pg_isready -q -h "$PGHOST" -p "$PGPORT"; }

# The PostgreSQL client tools live in /usr/lib/postgresql/<ver>/bin too; make
# sure pg_isready/psql/createdb are reachable even on a minimal PATH.
add_pg_bin_to_path() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -d "$d" ] && PATH="$PATH:$d"
	done
	export PATH
}

pg_version() {
	# Highest installed cluster version under /etc/postgresql, if any.
	ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1
}

start_postgres() {
	local ver
	ver="$(pg_version)"
	[ -n "$ver" ] || return 1
	log "starting PostgreSQL $ver"
	if have pg_ctlcluster && pg_ctlcluster --skip-systemctl-redirect "$ver" main start; then
		return 0
	fi
	log "pg_ctlcluster failed; trying 'service postgresql start'"
	service postgresql start
}

ensure_postgres() {
	add_pg_bin_to_path
	if have pg_isready && pg_ready; then
		log "PostgreSQL is ready on $PGHOST:$PGPORT"
		return 0
	fi
	if [ -z "$(pg_version)" ]; then
		if apt_install postgresql; then
			add_pg_bin_to_path
		else
			die "PostgreSQL is not running on $PGHOST:$PGPORT and not installed; install it (Debian: sudo apt-get install postgresql) and start it"
		fi
	fi
	start_postgres || die "could not start PostgreSQL; start it by hand (pg_ctlcluster <ver> main start)"
	log "waiting for PostgreSQL on $PGHOST:$PGPORT"
	wait_for postgres pg_ready || die "PostgreSQL did not become ready on $PGHOST:$PGPORT within 30 s"
	log "PostgreSQL is ready on $PGHOST:$PGPORT"
}

# --------------------------------------------------------------------- Redis

redis_ready() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

start_redis() {
	local dir=/var/lib/redis logdir=/var/log/redis
	mkdir -p "$dir" 2>/dev/null || true
	mkdir -p "$logdir" 2>/dev/null || true
	if [ ! -d "$dir" ] || [ ! -w "$dir" ]; then
		dir="${TMPDIR:-/tmp}"
	fi
	if [ ! -d "$logdir" ] || [ ! -w "$logdir" ]; then
		logdir="${TMPDIR:-/tmp}"
	fi
	log "starting redis-server on 127.0.0.1:$REDIS_PORT (log: $logdir/ci.log)"
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
		--save "" --appendonly no --dir "$dir" --logfile "$logdir/ci.log"
}

ensure_redis() {
	if have redis-cli && redis_ready; then
		log "Redis is ready on $REDIS_HOST:$REDIS_PORT"
		return 0
	fi
	if ! have redis-server || ! have redis-cli; then
		apt_install redis-server ||
			die "Redis is not running on $REDIS_HOST:$REDIS_PORT and not installed; install it (Debian: sudo apt-get install redis-server) and start it"
		# The Debian package may have started its own instance already.
		if redis_ready; then
			log "Redis is ready on $REDIS_HOST:$REDIS_PORT"
			return 0
		fi
	fi
	start_redis || die "could not start redis-server"
	log "waiting for Redis on $REDIS_HOST:$REDIS_PORT"
	wait_for redis redis_ready || die "Redis did not become ready on $REDIS_HOST:$REDIS_PORT within 30 s"
	log "Redis is ready on $REDIS_HOST:$REDIS_PORT"
}

# ----------------------------------------------------------------- databases

ensure_database() {
	local db="$1" exists
	case "$db" in
	*[!A-Za-z0-9_]* | "") die "refusing odd database name '$db' (use letters, digits, _)" ;;
	esac
	exists="$(psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname='$db'")"
	if [ "$exists" = "1" ]; then
		log "database $db exists"
	else
		createdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$db"
		log "created database $db"
	fi
}

ensure_postgres
ensure_redis

if [ "$#" -eq 0 ]; then
	set -- portico
fi
for db in "$@"; do
	ensure_database "$db"
done
log "ok"
