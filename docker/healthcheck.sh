#!/bin/sh
# The image's HEALTHCHECK: the standard grpc.health.v1 check against the server in this
# container, on whatever port ACTSERVE_LISTEN names (0.0.0.0:50051, [::]:50051, ...). The
# deadline stays inside the HEALTHCHECK's --timeout, so a hung server reads as unhealthy
# rather than as a timed-out check.
set -eu
listen=${ACTSERVE_LISTEN:-0.0.0.0:50051}
port=${listen##*:}
exec /usr/local/bin/actserve-client health --deadline=2s --target="127.0.0.1:${port:-50051}"
