#!/bin/bash
# studioml-azure: the install's file server (S3), SeaweedFS, on this VM: the role the seed's Minio had.
# The boot script is this install part followed by the configure part (files-configure.sh). Run by cloud-init's
# runcmd at first boot, and again by `studioml-azure apply` through VM Run Command when an earlier
# run failed: every step can be repeated. It stops at the first failed command; /var/lib/studioml/boot-status then
# says which step failed ("done" when all passed), and /var/log/studioml-boot.log has the output. No secret is on a
# command line or in the log: the S3 keys are in /etc/seaweedfs/s3.json (0600, the seaweedfs user).
@COMMON@
URL="@SEAWEEDFS_URL@"
step "mount the data disk"
mountpoint -q /data
step "download SeaweedFS @SEAWEEDFS_VERSION@"
echo "fetching $URL"
curl -fsSL --connect-timeout 20 --retry 5 --retry-delay 5 -o /tmp/seaweedfs.tar.gz "$URL"
echo "fetching $URL.md5"
curl -fsSL --connect-timeout 20 --retry 5 --retry-delay 5 -o /tmp/seaweedfs.tar.gz.md5 "$URL.md5"
step "verify the download against the release's checksum"
echo "$(cat /tmp/seaweedfs.tar.gz.md5)  /tmp/seaweedfs.tar.gz" | md5sum -c -
step "install SeaweedFS"
tar -xzf /tmp/seaweedfs.tar.gz -C /usr/local/bin weed
useradd --system --no-create-home --shell /usr/sbin/nologin seaweedfs || true
install -d -o seaweedfs -g seaweedfs -m 0750 /data/seaweedfs
