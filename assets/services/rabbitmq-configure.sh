#!/bin/bash
# studioml-azure: RabbitMQ's configuration on this VM: users (definitions), the AMQP listener for the runners and the
# AMQPS (TLS) listener for experimenters, then a restart and checks. The end of the boot script, and on its own
# (/usr/local/sbin/studioml-configure, through Run Command) when apply delivers a renewed certificate or rotated
# credentials: RabbitMQ imports the definitions on every start, so a changed password hash takes effect here.
@COMMON@
step "configure rabbitmq"
install -d -o root -g rabbitmq -m 0750 /etc/rabbitmq/tls
install -o rabbitmq -g rabbitmq -m 0640 /etc/studioml/rabbitmq.conf /etc/rabbitmq/rabbitmq.conf
install -o rabbitmq -g rabbitmq -m 0640 /etc/studioml/definitions.json /etc/rabbitmq/definitions.json
install -o rabbitmq -g rabbitmq -m 0644 /etc/studioml/tls/ca.pem /etc/rabbitmq/tls/ca.pem
install -o rabbitmq -g rabbitmq -m 0644 /etc/studioml/tls/server.pem /etc/rabbitmq/tls/server.pem
install -o rabbitmq -g rabbitmq -m 0600 /etc/studioml/tls/server.key /etc/rabbitmq/tls/server.key
step "start rabbitmq"
systemctl restart rabbitmq-server
rabbitmqctl await_startup
step "remove the guest user"
rabbitmqctl delete_user guest || true
step "check an AMQP login"
python3 /usr/local/lib/studioml/check.py amqp
step "check the AMQPS (TLS) listener"
python3 /usr/local/lib/studioml/check.py tls
echo "done" > /var/lib/studioml/boot-status
echo "==> done"
