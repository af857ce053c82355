#!/bin/sh
# The image's HEALTHCHECK: the standard grpc.health.v1 check against the server in this
# container, on whatever port ACTSERVE_LISTEN names (0.0.0.0:50051, [::]:50051, ...).
set -eu
port=${ACTSERVE_LISTEN##*:}
exec /usr/local/bin/actserve-client health --target="127.0.0.1:${port:-50051}"
