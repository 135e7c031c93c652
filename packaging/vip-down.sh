#!/bin/sh
# vip-down.sh
exec ip addr del "$2"/32 dev "$1"
