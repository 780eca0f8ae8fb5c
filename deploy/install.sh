#!/usr/bin/env bash
# Installs algoqueue as a systemd service: the release binary, the unit, an example configuration.
# Run from the source tree as root:  sudo bash deploy/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
apt-get install -y librdkafka1 libsqlite3-0 >/dev/null
swift build -c release --product algoqueue
install -m 0755 .build/release/algoqueue /usr/local/bin/algoqueue
install -m 0644 deploy/algoqueue.service /etc/systemd/system/algoqueue.service
install -d -m 0755 /etc/algoqueue
if [ ! -f /etc/algoqueue/algoqueue.yaml ]; then
  install -m 0644 deploy/algoqueue.example.yaml /etc/algoqueue/algoqueue.yaml
  echo "edit /etc/algoqueue/algoqueue.yaml (brokers, topics, algorithm.url), then: systemctl enable --now algoqueue"
fi
systemctl daemon-reload 2>/dev/null || true
