#!/bin/sh
# vip-up.sh
exec ip addr add "$2"/32 dev "$1"
