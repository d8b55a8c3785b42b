#!/usr/bin/env bash
# `just load` (issue 18): Portico and the naive stack (../shared/bench/ceiling, a bare Fiber +
# html/template + go-redis + pgx server) side by side on loopback, wrk in interleaved rounds,
# printing req/s, p50, p99 and Portico ÷ naive for each comparable endpoint.
#
# Portico serves the bench-seed data (portico_bench, `just bench` seeds it); the naive stack its
# own 1M-ticket database (its setup.sh seeds it once). Each request carries one of SESSIONS
# signed-in sessions, written straight into Redis for the first SESSIONS bench contacts.
# Everything is bounded (wrk -d) and both servers are ended by PID on exit.
# Knobs: THREADS=2 CONNS=32 DURATION=10s WARMUP=3s ROUNDS=3 SESSIONS=400 PORT=3901 CEILING_PORT=3902
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2} CONNS=${CONNS:-32} DURATION=${DURATION:-10s} WARMUP=${WARMUP:-3s} ROUNDS=${ROUNDS:-3}
SESSIONS=${SESSIONS:-400} PORT=${PORT:-3901} CEILING_PORT=${CEILING_PORT:-3902}
BENCH_DB=${BENCH_DB:-postgres://postgres@127.0.0.1:5432/portico_bench?sslmode=disable}
REDIS_DB=${REDIS_DB:-15}
CEILING_SRC=${CEILING_SRC:-$(git rev-parse --path-format=absolute --git-common-dir)/../../shared/bench/ceiling}
[[ -d $CEILING_SRC ]] || CEILING_SRC=/work/shared/bench/ceiling
WORK=${LOAD_DIR:-${TMPDIR:-/tmp}/portico-load}
mkdir -p "$WORK"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }

# The naive stack, copied out of the shared folder as its README asks.
if [[ ! -d $WORK/ceiling ]]; then cp -r "$CEILING_SRC" "$WORK/ceiling"; fi
(cd "$WORK/ceiling" && { ./setup.sh >/dev/null ||
  # setup.sh stops on a database without the tickets table (its count runs anyway): seed it here.
  PGPASSWORD=ceiling psql -h 127.0.0.1 -U ceiling -d ceiling -v ON_ERROR_STOP=1 -qAt -f seed.sql >/dev/null; } && go build -trimpath -o bin/ceiling . && ./bin/ceiling -seed-sessions 10000 -redis 127.0.0.1:6379)
go build -o "$WORK/portico" .

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$WORK/ceiling/bin/ceiling" -addr "127.0.0.1:$CEILING_PORT" >"$WORK/ceiling.log" 2>&1 & pids+=($!)
DATABASE_URL=$BENCH_DB REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB" PORTICO_ADDR="127.0.0.1:$PORT" \
  PORTICO_SECRET_KEY=${PORTICO_SECRET_KEY:-$(printf 'ab%.0s' {1..32})} PORTICO_BLOB_URL="file://$WORK/blobs?no_tmp_dir=1" \
  PORTICO_LOG_LEVEL=error "$WORK/portico" serve >"$WORK/portico.log" 2>&1 & pids+=($!)
mkdir -p "$WORK/blobs"
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && curl -fs "http://127.0.0.1:$CEILING_PORT/plain" >/dev/null && break
  sleep 0.2
done

# Company mode (the org view) and SESSIONS signed-in sessions of bench contacts.
psql "$BENCH_DB" -qAt -c "INSERT INTO portal_settings (key, value) VALUES ('ticket_permissions', '\"company\"')
  ON CONFLICT (key) DO UPDATE SET value = excluded.value" >/dev/null
psql "$BENCH_DB" -qAt -c "SELECT c.id FROM contacts c WHERE c.email LIKE 'bench-%@company-%.bench' ORDER BY c.id LIMIT $SESSIONS" |
  awk -v now="$(date +%s)" '{ sid = sprintf("load%039d", NR); print "HSET portico:s:" sid " kind contact pid " $1 " created " now " csrf load" NR; print "EXPIRE portico:s:" sid " 3600" }' |
  redis-cli -n "$REDIS_DB" >/dev/null
# Two fixed sessions: the large company's contact and a typical one (whose ticket page is measured).
for who in large:bench-1@company-1.bench small:bench-5@company-2.bench; do
  id=$(psql "$BENCH_DB" -qAt -c "SELECT c.id FROM contacts c WHERE c.email = '${who#*:}'")
  redis-cli -n "$REDIS_DB" HSET "portico:s:${who%%:*}$(printf '%038d' 0)" kind contact pid "$id" created "$(date +%s)" csrf "${who%%:*}" >/dev/null
done

cat >"$WORK/portico.lua" <<LUA
local SESSIONS, reqs, n = $SESSIONS, {}, 0
local words = { "login", "printer" }
local counter = 0
function setup(thread) counter = counter + 1; thread:set("tid", counter) end
function init(args)
  math.randomseed(2000 + (tid or 0))
  local fixed = os.getenv("SID") or ""
  for i = 1, 4096 do
    local sid = string.format("load%039d", math.random(1, SESSIONS))
    if fixed ~= "" then sid = fixed .. string.format("%038d", 0) end
    local h = { ["Cookie"] = "portico_session=" .. sid }
    if os.getenv("HX") == "1" then h["HX-Request"] = "true" end
    reqs[i] = wrk.format("GET", wrk.path, h)
  end
end
function request() n = n + 1; if n > #reqs then n = 1 end; return reqs[n] end
LUA
cat "$WORK/ceiling/wrk.lua" | sed -n '/^function done/,$p' >>"$WORK/portico.lua"

TICKET=$(psql "$BENCH_DB" -qAt -c "SELECT id FROM tickets WHERE company_id = (SELECT company_id FROM contacts WHERE email = 'bench-5@company-2.bench') ORDER BY last_activity_at DESC LIMIT 1")
# name|server|path|HX|fixed session (large, small; empty: a random one of SESSIONS)
ENDPOINTS=(
  "naive /list|c|/list|0|0"
  "naive /list-own|c|/list-own|0|0"
  "naive /search|c|/search?q=|0|0"
  "list fragment org|p|/tickets?view=org|1|"
  "list fragment own|p|/tickets?view=mine|1|"
  "full list page org|p|/tickets?view=org|0|"
  "search common (login)|p|/tickets?view=org&q=login|1|"
  "search rare (printer)|p|/tickets?view=org&q=printer|1|"
  "ticket page (typical contact)|p|/tickets/$TICKET|0|small"
  "large company: search|p|/tickets?view=org&q=printer|0|large"
  "large company: list fragment|p|/tickets?view=org|1|large"
)
run() { # name server path hx large duration -> RESULT line
  local url script=$WORK/portico.lua
  if [[ $2 == c ]]; then url="http://127.0.0.1:$CEILING_PORT$3"; script=$WORK/ceiling/wrk.lua; else url="http://127.0.0.1:$PORT$3"; fi
  HX=$4 SID=$5 wrk -t"$THREADS" -c"$CONNS" -d"$6" --latency -s "$script" "$url" | grep '^RESULT'
}
declare -A res
for e in "${ENDPOINTS[@]}"; do IFS='|' read -r name srv path hx large <<<"$e"; run "$name" "$srv" "$path" "$hx" "$large" "$WARMUP" >/dev/null; done
for r in $(seq "$ROUNDS"); do
  for e in "${ENDPOINTS[@]}"; do
    IFS='|' read -r name srv path hx large <<<"$e"
    line=$(run "$name" "$srv" "$path" "$hx" "$large" "$DURATION")
    res["$name"]+="$line"$'\n'
    echo "round $r  $name  $line" >&2
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { grep -o "$1=[0-9.]*" | cut -d= -f2; }
printf '\n| endpoint | req/s (median) | p50 ms | p99 ms | non-2xx | ratio |\n|---|---:|---:|---:|---:|---|\n'
declare -A rps
for e in "${ENDPOINTS[@]}"; do
  IFS='|' read -r name _ <<<"$e"
  rps[$name]=$(printf '%s' "${res[$name]}" | field rps | median)
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b }'; }
for e in "${ENDPOINTS[@]}"; do
  IFS='|' read -r name _ <<<"$e"
  r=""
  case $name in
    "list fragment org") r="$(ratio "${rps[$name]}" "${rps[naive /list]}") of naive /list (target ≥ 1.5×)" ;;
    "list fragment own") r="$(ratio "${rps[$name]}" "${rps[naive /list-own]}") of naive /list-own (target ≥ 1.5×)" ;;
    "full list page org") r="$(ratio "${rps[$name]}" "${rps[list fragment org]}") of its fragment (target ≥ 0.9×)" ;;
    "search common (login)") r="$(ratio "${rps[$name]}" "${rps[naive /search]}") of naive /search (target ≥ 3×)" ;;
    "search rare (printer)") r="$(ratio "${rps[$name]}" "${rps[naive /search]}") of naive /search (target ≥ 1.5×)" ;;
    "ticket page (typical contact)") r="$(ratio "${rps[$name]}" "${rps[list fragment org]}") of the list fragment (target ≥ 1×)" ;;
    "large company: search") r="target ≥ 1,000 req/s, p99 < 60 ms" ;;
    "large company: list fragment") r="$(ratio "${rps[$name]}" "${rps[list fragment org]}") of a small company's" ;;
  esac
  printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "${rps[$name]}" \
    "$(printf '%s' "${res[$name]}" | field p50_ms | median)" "$(printf '%s' "${res[$name]}" | field p99_ms | median)" \
    "$(printf '%s' "${res[$name]}" | field non2xx | sort -n | tail -1)" "$r"
done
