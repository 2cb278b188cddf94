#!/usr/bin/env bash
# Services the test suite needs, installed and started by the project itself
# (CI runs on a bare machine): Debian's Chromium + CJK fonts for the browser
# tests, and a throwaway PostgreSQL cluster on loopback for the postgres tests.
#
#   scripts/services.sh          install what is missing, start PostgreSQL (idempotent)
#   scripts/services.sh stop     stop the throwaway cluster
#   eval "$(scripts/services.sh)"  also exports CHATANIME_TEST_PG_URL in the caller
#
# The cluster is a disposable test fixture: it runs with fsync off (CREATE DATABASE per test
# is then cheap). The crash-safety tests kill the *app server*, never PostgreSQL.
#
# Progress goes to stderr; stdout carries only the `export ...` line so that the
# eval form works. The URL is also written to .pgdata/url, which the pytest
# fixture reads when the variable is absent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${CHATANIME_PG_STATE:-$ROOT/.pgdata}"
FIRST_PORT="${CHATANIME_PG_PORT:-55432}"
DB_NAME="chatanime_test"

log() { echo "services: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root to run: $*"; return 1; fi
}

missing_packages() {
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            echo "$pkg"
        fi
    done
}

ensure_packages() {
    local missing
    missing="$(missing_packages "$@" | tr '\n' ' ')"
    if [ -n "${missing// /}" ]; then
        log "installing Debian packages: $missing"
        as_root apt-get update -qq >&2
        # shellcheck disable=SC2086
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends $missing >&2
    fi
}

pg_bindir() {
    local dir
    if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
    dir="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
    [ -x "$dir/initdb" ] && echo "$dir"
}

# PostgreSQL refuses to run as root: root runs it as the `postgres` OS user.
pg_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local port="$FIRST_PORT"
    while port_in_use "$port"; do
        port=$((port + 1))
        if [ "$port" -gt $((FIRST_PORT + 100)) ]; then log "no free port"; return 1; fi
    done
    echo "$port"
}

# The cluster lives in .pgdata/cluster unless the postgres user cannot reach the checkout
# (e.g. a clone under a 0700 home directory): then in a per-checkout folder under /tmp.
# The choice is recorded in .pgdata/cluster_dir so that `stop` finds it.
cluster_dir() {
    local dir
    if [ -f "$STATE/cluster_dir" ]; then cat "$STATE/cluster_dir"; return; fi
    dir="$STATE/cluster"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$(pg_user)" "$dir"
        if ! runuser -u postgres -- test -w "$dir" 2>/dev/null; then
            rmdir "$dir"
            dir="${TMPDIR:-/tmp}/chatanime-pg-$(echo "$ROOT" | sha256sum | cut -c1-12)"
            mkdir -p "$dir"
            chown "$(pg_user)" "$dir"
        fi
    fi
    chmod 700 "$dir"
    echo "$dir" >"$STATE/cluster_dir"
    echo "$dir"
}

start_postgres() {
    local bin cluster port url
    bin="$(pg_bindir || true)"
    if [ -z "$bin" ]; then
        ensure_packages postgresql
        bin="$(pg_bindir)"
    fi
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    cluster="$(cluster_dir)"
    if [ ! -f "$cluster/PG_VERSION" ]; then
        log "initialising a throwaway cluster in $cluster"
        as_pg "$bin/initdb" -D "$cluster" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 >/dev/null
    fi
    if as_pg "$bin/pg_ctl" -D "$cluster" status >/dev/null 2>&1 && [ -f "$STATE/port" ]; then
        port="$(cat "$STATE/port")"
        log "PostgreSQL already running on 127.0.0.1:$port"
    else
        port="$(free_port)"
        log "starting PostgreSQL on 127.0.0.1:$port"
        as_pg "$bin/pg_ctl" -D "$cluster" -w -t 60 -l "$cluster/server.log" \
            -o "-h 127.0.0.1 -p $port -k $cluster -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null
        echo "$port" >"$STATE/port"
    fi
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" postgres | grep -q 1; then
        "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$DB_NAME"
    fi
    url="postgresql://postgres@127.0.0.1:$port/$DB_NAME"
    echo "$url" >"$STATE/url"
    log "CHATANIME_TEST_PG_URL=$url (also in $STATE/url)"
    echo "export CHATANIME_TEST_PG_URL=$url"
}

stop_postgres() {
    local bin cluster
    bin="$(pg_bindir || true)"
    cluster="$(cat "$STATE/cluster_dir" 2>/dev/null || echo "$STATE/cluster")"
    if [ -n "$bin" ] && [ -f "$cluster/PG_VERSION" ]; then
        as_pg "$bin/pg_ctl" -D "$cluster" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -f "$STATE/url" "$STATE/port"
    log "PostgreSQL stopped"
}

main() {
    case "${1:-start}" in
        start)
            ensure_packages chromium fonts-noto-cjk
            start_postgres
            ;;
        stop) stop_postgres ;;
        *)
            log "usage: $0 [start|stop]"
            exit 2
            ;;
    esac
}

main "$@"
