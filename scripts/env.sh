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
# The gateway logs in as a member of backend_gateway (created by scripts/demo.sh).
GATEWAY_DSN=${GATEWAY_DSN:-"host=127.0.0.1 port=$PGPORT dbname=$PGDATABASE user=backend_gateway_login password=gateway"}
# PostgreSQL refuses to run as root: run server-side tools as postgres then.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
export PGHOST=$PGSOCK PGPORT PGUSER=postgres PGDATABASE
