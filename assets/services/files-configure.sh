#!/bin/bash
# studioml-azure: the file server's configuration on this VM: S3 identities (s3.json), the TLS certificate of its HTTPS
# port for experimenters, then a restart, the buckets and checks. The end of the boot script, and on its own
# (/usr/local/sbin/studioml-configure, through Run Command) when apply delivers a renewed certificate or rotated keys.
@COMMON@
step "configure SeaweedFS"
install -d -o root -g seaweedfs -m 0750 /etc/seaweedfs
install -d -o root -g seaweedfs -m 0750 /etc/seaweedfs/tls
install -o seaweedfs -g seaweedfs -m 0600 /etc/studioml/s3.json /etc/seaweedfs/s3.json
install -o seaweedfs -g seaweedfs -m 0644 /etc/studioml/tls/server.pem /etc/seaweedfs/tls/server.pem
install -o seaweedfs -g seaweedfs -m 0600 /etc/studioml/tls/server.key /etc/seaweedfs/tls/server.key
step "start SeaweedFS"
systemctl daemon-reload
systemctl enable seaweedfs
systemctl restart seaweedfs
python3 /usr/local/lib/studioml/check.py wait-port 127.0.0.1 8333 180
step "create the buckets"
python3 /usr/local/lib/studioml/check.py s3-buckets @BUCKETS@
step "check an S3 login"
python3 /usr/local/lib/studioml/check.py s3
step "check the S3 HTTPS (TLS) listener"
python3 /usr/local/lib/studioml/check.py tls
echo "done" > /var/lib/studioml/boot-status
echo "==> done"
