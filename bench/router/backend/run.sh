#!/bin/sh
# Writes this instance's nginx config (its $PORT) under $HOME and runs nginx in the
# foreground: its own prefix, pid file, logs and temp dirs, never the system nginx's.
set -eu
dir="$HOME/nginx"
mkdir -p "$dir/tmp"
sed "s/@PORT@/$PORT/" nginx.conf.in >"$dir/nginx.conf"
nginx=$(command -v nginx || echo /usr/sbin/nginx)
exec "$nginx" -p "$dir/" -c "$dir/nginx.conf" -e stderr -g 'daemon off;'
