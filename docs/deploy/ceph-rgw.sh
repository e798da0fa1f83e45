#!/bin/sh
# One region's object store: a single-node Ceph cluster (one monitor, one OSD,
# one RADOS Gateway) in one container or on one host, for the reference
# deployment and for tests. Not a production cluster: one copy of every object
# (pool size 1), no cephx between daemons (they talk over loopback only). The
# S3 endpoint has user authentication as usual.
#
# Env:
#   CEPH_DATA      directory for the cluster's state (default /var/lib/ceph-demo)
#   RGW_PORT       S3 port (default 7480)
#   RGW_BIND       S3 address (default 0.0.0.0)
#   S3_REGION      the zonegroup's API name: what GetBucketLocation answers and
#                  what recvault's residency report checks (regions.X.location)
#   S3_ACCESS_KEY, S3_SECRET_KEY   the S3 user recvault (and the bucket init) use
#   OSD_BYTES      the OSD's size (default 4 GiB; memstore with OSD_STORE=memstore)
#   OSD_STORE      bluestore (default: a file under CEPH_DATA) or memstore (RAM, for tests)
#
# Idempotent: a second start reuses the cluster under CEPH_DATA. Runs the
# gateway in the foreground (exec) so the container's main process is radosgw.
set -eu
DATA=${CEPH_DATA:-/var/lib/ceph-demo}
PORT=${RGW_PORT:-7480}
BIND=${RGW_BIND:-0.0.0.0}
REGION=${S3_REGION:?set S3_REGION (e.g. ap-northeast-1)}
: "${S3_ACCESS_KEY:?set S3_ACCESS_KEY}" "${S3_SECRET_KEY:?set S3_SECRET_KEY}"
BYTES=${OSD_BYTES:-4294967296}
STORE=${OSD_STORE:-bluestore}
MON_PORT=${MON_PORT:-6789}
CONF="$DATA/ceph.conf"
mkdir -p "$DATA/mon" "$DATA/osd" "$DATA/run" "$DATA/log" "$DATA/rgw"

if [ ! -f "$CONF" ]; then
  FSID=$(cat /proc/sys/kernel/random/uuid)
  cat > "$CONF" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms bind ipv4 = true
ms bind ipv6 = false
# no cephx, so no "secure" messenger mode: daemons must accept crc to reach the monitor
ms mon client mode = crc secure
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon max pg per osd = 1000
run dir = $DATA/run
log file = $DATA/log/\$name.log
admin socket = $DATA/run/\$name.asok
pid file = $DATA/run/\$name.pid
osd objectstore = $STORE
memstore device bytes = $BYTES
bluestore block path = $DATA/osd/block
bluestore block create = true
bluestore block size = $BYTES
osd data = $DATA/osd/ceph-\$id
mon data = $DATA/mon/ceph-\$id
[client.rgw]
rgw frontends = beast endpoint=$BIND:$PORT
rgw zonegroup = default
rgw data = $DATA/rgw
EOF
fi

export CEPH_CONF="$CONF"
if [ ! -d "$DATA/mon/ceph-a" ]; then
  FSID=$(ceph-conf -c "$CONF" --lookup fsid)
  monmaptool --create --clobber --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DATA/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DATA/monmap"
fi
ceph-mon -c "$CONF" -i a
ceph -c "$CONF" --connect-timeout 60 mon stat >/dev/null

if [ ! -d "$DATA/osd/ceph-0" ]; then
  OSD_ID=$(ceph -c "$CONF" osd create)
  mkdir -p "$DATA/osd/ceph-$OSD_ID"
  ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs
  ceph -c "$CONF" osd crush add-bucket localhost host
  ceph -c "$CONF" osd crush move localhost root=default
  ceph -c "$CONF" osd crush add "osd.$OSD_ID" 1.0 host=localhost
fi
ceph-osd -c "$CONF" -i 0

tries=0
until ceph -c "$CONF" osd stat | grep -q "1 up"; do
  tries=$((tries + 1)); [ "$tries" -le 120 ] || { echo "the OSD did not come up"; exit 1; }
  sleep 1
done

# The first radosgw-admin call makes the default zone and zonegroup; the
# zonegroup's API name is the bucket location S3 clients see.
radosgw-admin -c "$CONF" user info --uid=recvault >/dev/null 2>&1 \
  || radosgw-admin -c "$CONF" user create --uid=recvault --display-name=recvault \
       --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" >/dev/null
radosgw-admin -c "$CONF" zonegroup modify --rgw-zonegroup=default --api-name="$REGION" >/dev/null

echo "ceph-rgw: S3 on $BIND:$PORT, location $REGION"
exec radosgw -c "$CONF" -n client.rgw -f
