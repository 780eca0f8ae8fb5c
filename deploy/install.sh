#!/usr/bin/env bash
# Installs algoqueue as a systemd service: the release binary, the unit, the man page, an example
# configuration, and a place for the API key. Run from the source tree as root:  sudo bash deploy/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup
swift build -c release --product algoqueue
install -m 0755 .build/release/algoqueue /usr/local/bin/algoqueue
install -m 0644 deploy/algoqueue.service /etc/systemd/system/algoqueue.service
install -m 0644 deploy/algoqueue-collect.service /etc/systemd/system/algoqueue-collect.service
install -D -m 0644 docs/algoqueue.1 /usr/local/share/man/man1/algoqueue.1
install -d -m 0755 /etc/algoqueue
install -d -m 0700 /etc/algoqueue/credentials
if [ ! -f /etc/algoqueue/credentials/model-token ]; then
  install -m 0600 /dev/null /etc/algoqueue/credentials/model-token
  echo "put the model's API key (if any) in /etc/algoqueue/credentials/model-token"
fi
if [ ! -f /etc/algoqueue/algoqueue.yaml ]; then
  install -m 0644 deploy/algoqueue.example.yaml /etc/algoqueue/algoqueue.yaml
  echo "edit /etc/algoqueue/algoqueue.yaml (brokers, topics, algorithm.url), then: systemctl enable --now algoqueue"
fi
algoqueue check-config /etc/algoqueue/algoqueue.yaml || true
systemctl daemon-reload 2>/dev/null || true
