#!/bin/sh
# The hello service as a container: busybox httpd on $PORT, /health answers 200.
# Same switches as server.js: HELLO_FAIL_HEALTH=1 (health fails), HELLO_EXIT_AT_ONCE=1.
port="${PORT:-8080}"
if [ "$HELLO_EXIT_AT_ONCE" = "1" ]; then
  echo "hello: exiting at once as asked (HELLO_EXIT_AT_ONCE=1)" >&2
  exit 3
fi
mkdir -p /tmp/www
printf '%s from %s\n' "${GREETING:-hello}" "${BP_DEPLOYMENT_ID:-hello}" > /tmp/www/index.html
[ "$HELLO_FAIL_HEALTH" = "1" ] || printf 'ok\n' > /tmp/www/health
echo "hello listening on http://0.0.0.0:$port"
exec httpd -f -v -p "$port" -h /tmp/www
