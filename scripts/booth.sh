#!/usr/bin/env bash
# make booth: the booth path on one machine. Node containers run only
# `redswitch agent`, as the NUCs do; the head node runs on this machine
# from a booth configuration derived from deploy/booth/booth.yaml, with
# virtual switches. Ctrl-C stops the head node and removes the containers.
set -euo pipefail
BIN=${BIN:-bin/redswitch}
DIR=${BOOTH_DIR:-.build/booth}
"$BIN" booth up --from deploy/booth/booth.yaml --dir "$DIR" ${BOOTH_FLAGS:-}
trap '"$BIN" booth down --dir "$DIR"' EXIT
REDSWITCH_CLUSTER_TOKEN=$(cat "$DIR/cluster-token")
export REDSWITCH_CLUSTER_TOKEN
if [ -z "${REDSWITCH_OPERATOR_TOKEN:-}" ]; then
	REDSWITCH_OPERATOR_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	echo "operator token (generated; set REDSWITCH_OPERATOR_TOKEN to choose it): $REDSWITCH_OPERATOR_TOKEN"
fi
export REDSWITCH_OPERATOR_TOKEN
echo "dashboard: http://127.0.0.1:8080/   Ctrl-C stops the booth and removes its containers"
# Not exec: the trap must run when the head node stops.
"$BIN" headnode --config "$DIR/booth.yaml"
