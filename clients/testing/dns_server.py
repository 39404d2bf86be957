"""A DNS server on 127.0.0.1 for the client libraries' tests: it answers TXT queries
for Postbode's signing keys (the DKIM-style records of docs/payloads.md) and nothing
else, so the tests' DNS look-ups never leave the machine.

    python3 dns_server.py RECORDS.json PORT_FILE

RECORDS.json maps names to lists of TXT strings; it is read again whenever it changes,
so a test may add a record (a domain's challenge, say). The chosen UDP port is written
to PORT_FILE once the server listens. Standard library only.
"""

import json
import os
import socket
import struct
import sys


def read_name(packet: bytes, pos: int):
    labels = []
    while True:
        length = packet[pos]
        pos += 1
        if length == 0:
            return ".".join(labels), pos
        if length >= 0xC0:
            raise ValueError("compressed names do not appear in questions")
        labels.append(packet[pos : pos + length].decode("ascii").lower())
        pos += length


def answer(query: bytes, records) -> bytes:
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    name, end = read_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[end : end + 4])
    question = query[12 : end + 4]
    strings = records.get(name.rstrip("."))
    rcode = 0 if strings is not None else 3  # NXDOMAIN
    answers = b""
    count = 0
    if strings is not None and qtype in (16, 255):
        rdata = b"".join(bytes([len(s)]) + s for s in (t.encode("ascii") for t in strings))
        answers = struct.pack("!HHHIH", 0xC00C, 16, 1, 60, len(rdata)) + rdata
        count = 1
    # QR, AA, the query's RD, RA.
    reply_flags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    return struct.pack("!HHHHHH", ident, reply_flags, 1, count, 0, 0) + question + answers


def main() -> None:
    records_file, port_file = sys.argv[1], sys.argv[2]
    records, loaded = {}, None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    with open(port_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(str(sock.getsockname()[1]))
    os.replace(port_file + ".tmp", port_file)
    while True:
        query, peer = sock.recvfrom(4096)
        try:
            changed = os.stat(records_file).st_mtime_ns
            if changed != loaded:
                with open(records_file, encoding="utf-8") as f:
                    records = {name.lower().rstrip("."): texts for name, texts in json.load(f).items()}
                loaded = changed
        except (OSError, ValueError):
            pass  # being rewritten: answer from what was read before
        try:
            sock.sendto(answer(query, records), peer)
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            continue  # not a query this server understands: no answer


if __name__ == "__main__":
    main()
