#!/bin/bash
# studioml-azure: RabbitMQ for studio-go-runner on this VM (Ubuntu 24.04's rabbitmq-server package).
# The boot script is this install part followed by the configure part (rabbitmq-configure.sh). Run by cloud-init's
# runcmd at first boot, and again by `studioml-azure apply` through VM Run Command when an earlier
# run failed: every step can be repeated. It stops at the first failed command; /var/lib/studioml/boot-status then
# says which step failed ("done" when all passed), and /var/log/studioml-boot.log has the output. No secret is on a
# command line or in the log: users and their password hashes come from the definitions file.
@COMMON@
step "install rabbitmq-server (apt)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q rabbitmq-server
