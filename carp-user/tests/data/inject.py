#!/usr/bin/env python3
"""Sends one CARP advert frame, built independently of xcarp's code, on an
interface: inject.py IFACE SRC_IP VHID PASSWORD VIP ADVBASE ADVSKEW COUNTER IP_ID
Used by capture.sh to provoke ucarp's reactions."""
import hashlib, hmac, socket, struct, sys

def cksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

iface, src, vhid, password, vip, advbase, advskew, counter, ip_id = sys.argv[1:]
vhid, advbase, advskew, counter, ip_id = map(int, (vhid, advbase, advskew, counter, ip_id))
group = socket.inet_aton("224.0.0.18")
msg = bytes([2, 1, vhid]) + socket.inet_aton(vip) + struct.pack("!Q", counter)
md = hmac.new(password.encode(), msg, hashlib.sha1).digest()
carp = struct.pack("!BBBBBBHQ", 0x21, vhid, advskew, 7, 0, advbase, 0, counter) + md
carp = carp[:6] + struct.pack("!H", cksum(carp)) + carp[8:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 56, ip_id, 0x4000, 255, 112, 0,
                 socket.inet_aton(src), group)
ip = ip[:10] + struct.pack("!H", cksum(ip)) + ip[12:]
eth = bytes([1, 0, 0x5E, 0, 0, 0x12, 0, 0, 0x5E, 0, 0, vhid]) + b"\x08\x00"
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
s.send(eth + ip + carp)
