# Portico task runner. `just` lists the recipes. Each recipe's doc comment is one line:
# `just --list` shows only the comment line right above a recipe.
set shell := ["bash", "-euo", "pipefail", "-c"]

bench_db_url := "postgres://postgres@127.0.0.1:5432/portico_bench?sslmode=disable"

# sqlc, pinned; `go run` builds it (cgo: a C compiler is needed, as for the race detector).
sqlc := "go run github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1"

# List the recipes.
default:
    @{{just_executable()}} --justfile {{justfile()}} --list

# Start PostgreSQL and Redis and create the database (DATABASE_URL's, else portico).
services:
    db="${DATABASE_URL:-portico}"; db="${db%%\?*}"; db="${db##*/}"; bash scripts/services.sh "$db"

# Run the portal with demo data on PORTICO_ADDR (default :3000); Ctrl-C stops it.
[no-exit-message]
run: services
    go run . serve --demo

# Build the binary into bin/portico.
build:
    go build -o bin/portico .

# Start PostgreSQL, Redis and a test Dovecot, check Chromium, check sql/db is current (sqlc diff), vet and run every test.
test:
    bash scripts/services.sh portico
    bash scripts/mailserver.sh
    bash scripts/browser.sh
    bash scripts/samlschemas.sh
    {{sqlc}} diff
    go vet ./...
    export PORTICO_TEST_DATABASE_URL="${PORTICO_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"; \
    export PORTICO_TEST_REDIS_URL="${PORTICO_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"; \
    go test -count=1 -p 1 -timeout 30m ./...

# Seed portico_bench (1M tickets, once) and run the benchmarks in server/bench_test.go.
bench:
    bash scripts/services.sh portico_bench
    DATABASE_URL='{{bench_db_url}}' go run . bench-seed
    PORTICO_BENCH_DATABASE_URL='{{bench_db_url}}' go test -run '^$' -bench . -benchmem -benchtime 2s -timeout 30m ./server/

# Portico against the naive stack (../shared/bench/ceiling) on the bench data, interleaved wrk rounds.
load:
    bash scripts/services.sh portico_bench
    DATABASE_URL='{{bench_db_url}}' go run . bench-seed
    bash scripts/load.sh

# Regenerate sql/db from sql/migrations and sql/queries (sqlc.yaml); commit the result.
sqlc:
    {{sqlc}} generate

# Format every tracked Go file with gofmt.
fmt:
    git ls-files -z -- '*.go' | xargs -0 -r gofmt -w

# Run go vet on every package.
vet:
    go vet ./...
