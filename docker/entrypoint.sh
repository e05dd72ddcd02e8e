#!/bin/sh
# Entrypoint of the hcbridge container image (POSIX sh: the image's /bin/sh is dash).
#
#   (no args) / -L ... / -T ... / check-config ...   -> hcbridge with the settings below, then the arguments
#   hcbridge ARGS...                                  -> the same (the word "hcbridge" is dropped)
#   healthcheck [ARGS...]                             -> hcbridge healthcheck ARGS (reads $HCBRIDGE_ADMIN)
#   hcrelay ARGS...                                   -> the local relay, arguments unchanged
#
# Settings taken from the environment for hcbridge:
#   HCBRIDGE_ADMIN      admin endpoint ADDR:PORT, passed as --admin (image default 127.0.0.1:9090); the HEALTHCHECK
#                       asks the same variable. Empty: no --admin is added.
#   HCBRIDGE_CONFIG     config file passed as -c. Unset: /etc/hcbridge/hcbridge.json if that file exists.
#                       Set: the file must exist. Empty: no config file.
#   HCBRIDGE_ARGS       extra arguments (e.g. forwards "-T web:127.0.0.1:80 -L 0.0.0.0:8080:db"), split at
#                       white space, no quoting and no glob expansion; placed before the container's arguments.
#   HCBRIDGE_CONNECTION_STRING is read by hcbridge itself.
# --admin and -c/--config in the arguments win over HCBRIDGE_ADMIN and HCBRIDGE_CONFIG (hcbridge accepts each once).
set -eu

case "${1-}" in
  hcrelay)
    shift
    exec hcrelay "$@"
    ;;
  healthcheck)
    exec hcbridge "$@"
    ;;
  hcbridge)
    shift
    ;;
esac

# HCBRIDGE_ARGS go before the container's arguments: split at white space with globbing off, so "*:8080:web" and
# "[::]:8080:web" stay as they are.
set -f
# shellcheck disable=SC2086 # word splitting is the point here
set -- ${HCBRIDGE_ARGS-} "$@"
set +f

has_admin=false
has_config=false
for arg in "$@"; do
  case "$arg" in
    --admin | --admin=*) has_admin=true ;;
    -c | --config | --config=* | -c?*) has_config=true ;;
  esac
done

if [ "$has_config" = false ]; then
  if [ "${HCBRIDGE_CONFIG+set}" = set ]; then
    if [ -n "$HCBRIDGE_CONFIG" ]; then
      if [ ! -f "$HCBRIDGE_CONFIG" ]; then
        echo "hcbridge-entrypoint: HCBRIDGE_CONFIG=$HCBRIDGE_CONFIG: no such file (mount it, or unset HCBRIDGE_CONFIG)" >&2
        exit 2
      fi
      set -- -c "$HCBRIDGE_CONFIG" "$@"
    fi
  elif [ -f /etc/hcbridge/hcbridge.json ]; then
    set -- -c /etc/hcbridge/hcbridge.json "$@"
  fi
fi

if [ "$has_admin" = false ] && [ -n "${HCBRIDGE_ADMIN-}" ]; then
  set -- --admin "$HCBRIDGE_ADMIN" "$@"
fi

exec hcbridge "$@"
