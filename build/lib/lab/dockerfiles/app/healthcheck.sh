#!/bin/bash
# Container health check: the app answers GET /healthz (shallow: no database) with 200. Bash speaks the HTTP/1.0
# itself: it starts in about a millisecond, where the Python probe it replaces took tens.
exec 3<>"/dev/tcp/127.0.0.1/${APP_PORT:-8000}" || exit 1
printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3
read -r -t 2 status <&3 || exit 1
[[ $status == *" 200 "* ]]
