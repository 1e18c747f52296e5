#!/bin/sh
# The key-encryption key of the tenants' signing keys (backend_framework.
# key_encryption_key_file) for the development stack: 32 random bytes as hex,
# made once, when the data directory is initialised, into a 0600 file of the
# postgres user inside it. pg_dump never contains it; a copy of the data
# volume does, so the production stack reads a Docker secret instead
# (docker/secrets/key_encryption_key.txt, see docs/DEPLOYMENT.md).
set -e
f="$PGDATA/backend_framework_kek.hex"
if [ ! -s "$f" ]; then
  (umask 077; head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' > "$f")
fi
