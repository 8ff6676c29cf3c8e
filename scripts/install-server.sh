#!/usr/bin/env bash
# Installs Warden's monitor as a service on the OpenAlgo server (Debian 12, run as root):
#   - builds `warden` (release) unless --binary is given, and installs it in /usr/local/bin;
#   - creates the system user `warden`, in OpenAlgo's group so that it can write logs.db;
#   - writes /etc/warden/config.toml (0600, kept if it exists) pointing at OpenAlgo's logs.db, with
#     nginx and nftables enforcement turned on when they are installed;
#   - lets `warden` run exactly `nginx -t -q` and `nginx -s reload` as root (/etc/sudoers.d/warden,
#     checked with visudo) and creates the ban list nginx will include;
#   - installs packaging/warden.service, and starts it when systemd runs.
# Then it prints the two parts to paste into nginx's configuration.
#
#   sudo bash scripts/install-server.sh [--logs-db PATH] [--binary PATH] [--root DIR] [--no-start]
#
# --root DIR writes everything under DIR instead of / (and creates no user, runs no systemctl):
# the tests use it to check what would be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=""
LOGS_DB=""
BINARY=""
START=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?--root needs a folder}; shift 2 ;;
    --logs-db) LOGS_DB=${2:?--logs-db needs a path}; shift 2 ;;
    --binary) BINARY=${2:?--binary needs a path}; shift 2 ;;
    --no-start) START=0; shift ;;
    *) echo "install-server: unknown option $1 (see the top of this script)" >&2; exit 2 ;;
  esac
done

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install-server: run it as root (sudo bash scripts/install-server.sh)" >&2
  exit 1
fi

if [ -z "$LOGS_DB" ]; then
  for c in /var/python/openalgo-flask/openalgo/db/logs.db /var/python/openalgo/db/logs.db /opt/openalgo/db/logs.db /app/db/logs.db; do
    if [ -e "$c" ]; then LOGS_DB=$c; break; fi
  done
fi
if [ -z "$LOGS_DB" ]; then
  echo "install-server: OpenAlgo's logs.db was not found; give it with --logs-db PATH" >&2
  exit 1
fi
DB_DIR=$(dirname "$LOGS_DB")
OA_GROUP=$(stat -c %G "$DB_DIR" 2>/dev/null || echo www-data)

if [ -z "$BINARY" ]; then
  . scripts/common.sh
  step "build warden (release)" cargo build --release --locked --bin warden
  BINARY=target/release/warden
fi

install -d -m 0755 "$ROOT/usr/local/bin" "$ROOT/etc/systemd/system/warden.service.d" "$ROOT/usr/local/share/doc/warden"
install -m 0755 "$BINARY" "$ROOT/usr/local/bin/warden"
install -m 0644 README.md "$ROOT/usr/local/share/doc/warden/README.md"
install -m 0644 packaging/warden.service "$ROOT/etc/systemd/system/warden.service"
printf '[Service]\nReadWritePaths=%s\n' "$DB_DIR" >"$ROOT/etc/systemd/system/warden.service.d/paths.conf"
chmod 0644 "$ROOT/etc/systemd/system/warden.service.d/paths.conf"

if [ -z "$ROOT" ]; then
  id warden >/dev/null 2>&1 || useradd --system --home-dir /var/lib/warden --shell /usr/sbin/nologin --user-group warden
  usermod -a -G "$OA_GROUP" warden
fi
OWNER=warden
[ -n "$ROOT" ] && OWNER=$(id -un)

install -d -m 0700 -o "$OWNER" "$ROOT/etc/warden" "$ROOT/var/lib/warden"
install -d -m 0700 -o "$OWNER" "$ROOT/etc/nginx/warden"

NGINX=$(command -v nginx || true)
NFT=$(command -v nft || true)
CONFIG="$ROOT/etc/warden/config.toml"
if [ ! -e "$CONFIG" ]; then
  {
    echo "# Warden's configuration (see docs/guide.md). Written by scripts/install-server.sh."
    echo "logs_db = \"$LOGS_DB\""
    echo "state_db = \"$ROOT/var/lib/warden/state.db\""
    if [ -n "$NGINX" ]; then
      echo
      echo "[enforce.nginx]"
      echo "geo_file = \"$ROOT/etc/nginx/warden/banned.geo\""
      echo "check = [\"sudo\", \"-n\", \"$NGINX\", \"-t\", \"-q\"]"
      echo "reload = [\"sudo\", \"-n\", \"$NGINX\", \"-s\", \"reload\"]"
    fi
    if [ -n "$NFT" ]; then
      echo
      echo "[enforce.nftables]"
      echo "table = \"warden\""
      echo "ports = [80, 443]"
    fi
  } >"$CONFIG"
  chmod 0600 "$CONFIG"
  chown "$OWNER" "$CONFIG"
fi

if [ -n "$NGINX" ]; then
  SUDOERS="$ROOT/etc/sudoers.d/warden"
  install -d -m 0755 "$ROOT/etc/sudoers.d"
  printf '# Warden may check and reload nginx, and nothing else.\nwarden ALL=(root) NOPASSWD: %s -t -q, %s -s reload\n' "$NGINX" "$NGINX" >"$SUDOERS.tmp"
  chmod 0440 "$SUDOERS.tmp"
  if command -v visudo >/dev/null && ! visudo -cf "$SUDOERS.tmp" >/dev/null; then
    rm -f "$SUDOERS.tmp"
    echo "install-server: the sudo rule did not pass visudo; nothing was changed in sudoers.d" >&2
    exit 1
  fi
  mv "$SUDOERS.tmp" "$SUDOERS"
fi

# The empty ban list, so that nginx -t passes as soon as the snippet is pasted (created by the
# snippet command itself, as the warden user).
RUN=(env)
[ -z "$ROOT" ] && RUN=(setpriv --reuid=warden --regid=warden --init-groups)
warden_as_owner() {
  "${RUN[@]}" "$ROOT/usr/local/bin/warden" --config "$CONFIG" --logs-db "$LOGS_DB" "$@"
}
HTTP_PART=""
if [ -n "$NGINX" ]; then
  HTTP_PART=$(warden_as_owner enforce nginx-snippet --http)
fi
SERVER_PART=$(warden_as_owner enforce nginx-snippet --server)

if [ -z "$ROOT" ] && [ "$START" -eq 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now warden.service
  echo "Warden runs as a service: systemctl status warden; journalctl -u warden -f"
else
  echo "Installed. Start it with: systemctl daemon-reload && systemctl enable --now warden.service"
fi

if [ -z "$NGINX" ]; then
  echo "nginx is not installed here, so only nftables (if installed) and logs.db enforce bans."
  exit 0
fi
cat <<EOF

Three steps for nginx (once):
  1. Paste this into nginx's http { } (for example as /etc/nginx/conf.d/warden.conf):
$(printf '%s\n' "$HTTP_PART" | sed 's/^/       /')
  2. Paste this into the server { } that serves OpenAlgo, as its comments say:
$(printf '%s\n' "$SERVER_PART" | sed 's/^/       /')
  3. Check and reload nginx: sudo nginx -t && sudo systemctl reload nginx
     Then: sudo -u warden warden --config /etc/warden/config.toml enforce status
EOF
