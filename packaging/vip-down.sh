#!/bin/sh
# vip-down.sh: remove the address; not there is success (a backup
# runs this at start)
if ip -o -4 addr show dev "$1" | grep -qF " inet $2/32 "; then
    exec ip addr del "$2"/32 dev "$1"
fi
