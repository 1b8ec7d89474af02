#!/usr/bin/env bash
# Builds examples/hello's image without pulling anything: a busybox base from Debian's
# busybox-static, then image/Dockerfile. Pushes it when a registry answers on 127.0.0.1:5000.
#   bash examples/hello/build-image.sh [IMAGE]      (default: the image named in Blueprint.toml)
set -euo pipefail
cd "$(dirname "$0")"
image="${1:-$(sed -n 's/^image = "\([^"]*\)".*/\1/p' Blueprint.toml)}"
docker="${DOCKER:-docker}"
if ! "$docker" image inspect local/busybox >/dev/null 2>&1; then
  [ -x /bin/busybox ] || { echo "build-image: /bin/busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"; done
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$rootfs/etc/passwd"
  tar -C "$rootfs" -c . | "$docker" import -c 'ENV PATH=/bin' - local/busybox >/dev/null
fi
DOCKER_BUILDKIT=0 "$docker" build -q -t "$image" image >/dev/null
if [[ "$image" == 127.0.0.1:5000/* ]] && (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null; then
  "$docker" push -q "$image" >/dev/null
fi
echo "$image"
