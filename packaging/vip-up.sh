#!/bin/sh
# vip-up.sh: add the address; already there is success
exec ip addr replace "$2"/32 dev "$1"
