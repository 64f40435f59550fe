#!/usr/bin/env bash
# The nightly backup, with rotation; for cron (README: "Backups"). From chibo's directory:
#   bash deploy/backup.sh [DAYS]        keeps DAYS days of backups in ./backups (default 14)
# With Docker Compose set CHIBO_COMPOSE=1: the backup is taken inside the app container, into
# ./backups mounted at /app/backups. Old backups are removed only after a new one succeeded. With
# CHIBO_BACKUP_TEXTFILE set to a directory of the node exporter's textfile collector, the time of the
# last good backup is written there for the ChiboBackupMissing alert (deploy/alerts.yml).
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-14}
name="chibo-$(date -u +%Y%m%d-%H%M%S).backup"
mkdir -p backups
if [ -n "${CHIBO_COMPOSE:-}" ]; then
  docker compose exec -T app chibo backup "/app/backups/$name"
else
  .venv/bin/chibo backup "backups/$name"
fi
find backups -maxdepth 1 -name 'chibo-*.backup' -mtime +"$days" -delete
if [ -n "${CHIBO_BACKUP_TEXTFILE:-}" ]; then
  printf 'chibo_backup_last_success_timestamp_seconds %s\n' "$(date +%s)" >"$CHIBO_BACKUP_TEXTFILE/chibo_backup.prom.$$"
  mv "$CHIBO_BACKUP_TEXTFILE/chibo_backup.prom.$$" "$CHIBO_BACKUP_TEXTFILE/chibo_backup.prom"
fi
