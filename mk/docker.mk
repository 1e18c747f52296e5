# mk/docker.mk — Docker Compose targets (included by the top Makefile).
#   make up | down | restart | logs | ps | psql | build-images
#   make backup | restore FILE=backups/backend_db-....dump   [BACKUP_KEY=age identity file]
#   make secrets | certs     (production helpers; certs: CERTS_DIR=docker/nginx/certs)
# PROD=1 switches to docker/docker-compose.prod.yml; PROFILE=tools adds pgAdmin
# there. Settings come from .env (created from .env.example with random
# passwords on first use).
# `make backup` / `make restore` also work on a local cluster: LOCAL=1 uses
# the PG* variables of your shell instead of the Compose database.

COMPOSE_FILE_DEV  = docker/docker-compose.yml
COMPOSE_FILE_PROD = docker/docker-compose.prod.yml
COMPOSE_FILE_SEL  = $(if $(filter 1 yes true,$(PROD)),$(COMPOSE_FILE_PROD),$(COMPOSE_FILE_DEV))
DOCKER_COMPOSE   ?= docker compose
COMPOSE           = $(DOCKER_COMPOSE) --env-file .env -f $(COMPOSE_FILE_SEL) $(if $(PROFILE),--profile $(PROFILE))
SERVICE          ?=
BACKUP_DIR       ?= backups
BACKUP_KEEP      ?= 7

.PHONY: up down restart logs ps psql build-images backup restore secrets certs compose-config

# .env: a copy of .env.example with a fresh random password for each "change-me".
.env:
	@while IFS= read -r line; do \
	  case "$$line" in *=change-me) echo "$${line%change-me}$$(openssl rand -hex 16)";; *) printf '%s\n' "$$line";; esac; \
	done < .env.example > .env.tmp
	@mv .env.tmp .env && chmod 600 .env
	@echo "Created .env from .env.example with random passwords (edit it to change settings)."

up: .env
	$(COMPOSE) up -d --build --wait
	@echo "API:      http://localhost:$$(grep -E '^API_PORT=' .env | cut -d= -f2)"
	@echo "Console:  http://localhost:$$(grep -E '^FRONTEND_PORT=' .env | cut -d= -f2)/  (also http://localhost:$$(grep -E '^API_PORT=' .env | cut -d= -f2)/console/)"
	@echo "pgAdmin:  http://127.0.0.1:$$(grep -E '^PGADMIN_PORT=' .env | cut -d= -f2)  (this machine only; database login PGADMIN_DB_USER / PGADMIN_DB_PASSWORD)"

down: .env
	$(COMPOSE) down

restart: .env
	$(COMPOSE) restart $(SERVICE)

logs: .env
	$(COMPOSE) logs -f --tail=200 $(SERVICE)

ps: .env
	$(COMPOSE) ps

# psql as POSTGRES_USER inside the postgres container (no port needed).
psql: .env
	$(COMPOSE) exec postgres sh -c 'psql -U "$$POSTGRES_USER" -d "$$POSTGRES_DB"'

build-images: .env
	$(COMPOSE) build --pull

compose-config: .env
	$(COMPOSE) config

# Backups: scripts/backup_db.sh on the host, with pg_dump / pg_dumpall /
# pg_restore / psql run inside the postgres container (same major version as
# the server, no published port needed), writing the dump and the roles file
# to $(BACKUP_DIR) on the host. BACKUP_KEY=<age identity file> encrypts them
# (on the host; restore decrypts with the same variable). LOCAL=1 uses the
# local tools and the PG* variables of your shell instead.
ENV_VALUE = $(shell sed -n 's/^$(1)=//p' .env 2>/dev/null)
IN_PG     = $(COMPOSE) exec -T postgres
PG_SUPER  = $(or $(call ENV_VALUE,POSTGRES_USER),postgres)
BACKUP_KEY ?=
ifeq ($(filter 1 yes true,$(LOCAL)),)
backup: .env
	PG_DUMP="$(IN_PG) pg_dump -U $(PG_SUPER)" PG_DUMPALL="$(IN_PG) pg_dumpall -U $(PG_SUPER)" PG_RESTORE="$(IN_PG) pg_restore" \
	  PGDATABASE=$(or $(call ENV_VALUE,POSTGRES_DB),backend_db) \
	  BACKUP_DIR=$(BACKUP_DIR) BACKUP_KEEP=$(BACKUP_KEEP) BACKUP_KEY="$(BACKUP_KEY)" scripts/backup_db.sh
restore: .env
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/<db>-<time>.dump[.age] [DB=name] [RESTORE_CLEAN=1] [BACKUP_KEY=file]"; exit 2; }
	PG_RESTORE="$(IN_PG) pg_restore -U $(PG_SUPER)" PSQL="$(IN_PG) psql -U $(PG_SUPER)" \
	  PGDATABASE=$(or $(call ENV_VALUE,POSTGRES_DB),backend_db) RESTORE_CLEAN=$(RESTORE_CLEAN) BACKUP_KEY="$(BACKUP_KEY)" \
	  scripts/restore_db.sh "$(FILE)" $(DB)
else
backup:
	BACKUP_DIR=$(BACKUP_DIR) BACKUP_KEEP=$(BACKUP_KEEP) BACKUP_KEY="$(BACKUP_KEY)" scripts/backup_db.sh
restore:
	@test -n "$(FILE)" || { echo "usage: make restore LOCAL=1 FILE=backups/<db>-<time>.dump[.age] [DB=name] [RESTORE_CLEAN=1] [BACKUP_KEY=file]"; exit 2; }
	RESTORE_CLEAN=$(RESTORE_CLEAN) BACKUP_KEY="$(BACKUP_KEY)" scripts/restore_db.sh "$(FILE)" $(DB)
endif

# Production helpers: random secrets and a self-signed certificate (testing).
secrets:
	@mkdir -p docker/secrets && chmod 700 docker/secrets
	@for s in postgres_password gateway_db_password pgadmin_password pgadmin_db_password; do \
	  f=docker/secrets/$$s.txt; \
	  if [ -s $$f ]; then echo "kept    $$f"; else openssl rand -hex 16 > $$f && chmod 644 $$f && echo "created $$f"; fi; \
	done
	@f=docker/secrets/key_encryption_key.txt; \
	  if [ -s $$f ]; then echo "kept    $$f"; else openssl rand -hex 32 > $$f && chmod 644 $$f && echo "created $$f (back it up apart from the database)"; fi
# The private key is 0600 from its creation on (umask): nginx's master process
# reads it as root before it drops privileges.
CERTS_DIR ?= docker/nginx/certs
certs:
	@test ! -e $(CERTS_DIR)/fullchain.pem || { echo "$(CERTS_DIR)/fullchain.pem exists; remove it first"; exit 1; }
	@mkdir -p $(CERTS_DIR)
	umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$${CERT_CN:-localhost}" \
	  -addext "subjectAltName=DNS:$${CERT_CN:-localhost},DNS:*.$${CERT_CN:-localhost},IP:127.0.0.1" \
	  -keyout $(CERTS_DIR)/privkey.pem -out $(CERTS_DIR)/fullchain.pem
	@chmod 600 $(CERTS_DIR)/privkey.pem && chmod 644 $(CERTS_DIR)/fullchain.pem
	@echo "Self-signed certificate in $(CERTS_DIR) (testing only; privkey.pem is 0600)."
