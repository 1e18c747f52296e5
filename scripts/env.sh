# Shared settings for the run/test scripts (sourced, not executed).
# PGPORT picks the throw-away cluster's port; everything lives under .build/.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGPORT=${PGPORT:-54329}
BUILD=$ROOT/.build
PGROOT=$BUILD/pgroot                      # private copy of PostgreSQL + our extension
SYS_BINDIR=$(pg_config --bindir)
BINDIR=$PGROOT$SYS_BINDIR
CLUSTER=$BUILD/cluster-$PGPORT            # data directory and socket of the throw-away cluster
PGDATA=$CLUSTER/data
PGSOCK=$CLUSTER
PGDATABASE=${PGDATABASE:-backend_db}
GATEWAY_PORT=${GATEWAY_PORT:-$((PGPORT + 1000))}
FRONTEND_PORT=${FRONTEND_PORT:-$((PGPORT + 2000))}   # a second origin for the console (cross-origin tests)
# The gateway logs in over TCP as a member of backend_gateway (created by
# scripts/demo.sh) with a generated password, kept in a libpq password file
# (mode 0600, never on a command line).
GATEWAY_PASSFILE=$CLUSTER/gateway.pgpass
GATEWAY_DSN=${GATEWAY_DSN:-"host=127.0.0.1 port=$PGPORT dbname=$PGDATABASE user=backend_gateway_login passfile=$GATEWAY_PASSFILE"}
gateway_password() { cut -d: -f5- "$GATEWAY_PASSFILE"; }
# PostgreSQL refuses to run as root: run server-side tools as postgres then.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# initdb DATADIR for every throw-away cluster: over TCP only scram-sha-256
# passwords (the superuser has none, so it cannot log in over TCP at all);
# over the socket any role, but the socket is mode 0700 (set with
# unix_socket_permissions by the caller), so only the cluster's OS owner and
# root reach it, never another local account.
bf_initdb() {
  as_pg "$BINDIR/initdb" -D "$1" -U postgres --auth-local=trust --auth-host=scram-sha-256 --no-sync >/dev/null
}
export PGHOST=$PGSOCK PGPORT PGUSER=postgres PGDATABASE
# The fixed ports the scripts bind again and again (a restarted cluster or
# gateway) lie in the kernel's ephemeral range (32768-60999): a client
# socket that happened to take one as its local port (a libpq or test
# connection) would make the next bind fail with EADDRINUSE. As root, add
# them to net.ipv4.ip_local_reserved_ports, so the kernel no longer hands
# them out as local ports; nothing else changes. Others: nothing to do.
bf_reserve_ports() {
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur
  [ "$(id -u)" -eq 0 ] && [ -w "$f" ] || return 0
  cur=$(cat "$f")
  echo "${cur:+$cur,}$(IFS=,; echo "$*")" > "$f" 2>/dev/null || true
}
