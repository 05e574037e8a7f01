#!/usr/bin/env python3
"""Captures real walsender CopyData payloads into copydata.hex.

Speaks just enough of the PostgreSQL wire protocol (trust authentication
only) to open a replication connection, create a temporary pgoutput slot,
run START_REPLICATION and record the CopyData messages the server sends:
XLogData ('w') frames carrying pgoutput messages, and primary keepalives
('k'), including one answering a standby status update sent with
reply_requested = 1.

    PGHOST=127.0.0.1 PGPORT=25432 PGDATABASE=logtap ./capture_copydata.py

Needs psql on PATH (for the workload) and a superuser 'postgres' with trust
authentication, as scripts/services sets up.
"""
import os
import socket
import struct
import subprocess
import sys
import time

HOST = os.environ.get("PGHOST", "127.0.0.1")
PORT = int(os.environ.get("PGPORT", "25432"))
DB = os.environ.get("PGDATABASE", "logtap")
URL = f"postgres://postgres@{HOST}:{PORT}/{DB}"
PG_EPOCH_UNIX_US = 946_684_800_000_000


def psql(sql):
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
    subprocess.run(["psql", URL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL, env=env)


class Conn:
    def __init__(self):
        self.s = socket.create_connection((HOST, PORT))
        self.buf = b""
        params = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in
                          [("user", "postgres"), ("database", DB), ("replication", "database")]) + b"\0"
        body = struct.pack("!I", 196608) + params
        self.s.sendall(struct.pack("!I", len(body) + 4) + body)
        while True:
            t, m = self.recv()
            if t == b"R" and struct.unpack("!I", m[:4])[0] != 0:
                sys.exit("only trust authentication is supported")
            if t == b"E":
                sys.exit(f"server error: {m!r}")
            if t == b"Z":
                return

    def recv(self):
        while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack("!I", self.buf[1:5])[0]:
            chunk = self.s.recv(65536)
            if not chunk:
                sys.exit("connection closed")
            self.buf += chunk
        n = struct.unpack("!I", self.buf[1:5])[0]
        t, m = self.buf[:1], self.buf[5:1 + n]
        self.buf = self.buf[1 + n:]
        return t, m

    def send(self, t, body):
        self.s.sendall(t + struct.pack("!I", len(body) + 4) + body)

    def query(self, sql):
        self.send(b"Q", sql.encode() + b"\0")
        while True:
            t, m = self.recv()
            if t == b"E":
                sys.exit(f"server error: {m!r}")
            if t in (b"Z", b"W"):  # ReadyForQuery, or CopyBothResponse
                return t


def main():
    psql("DROP TABLE IF EXISTS gold_cd; DROP PUBLICATION IF EXISTS gold_cd_pub;"
         "CREATE TABLE gold_cd (id int PRIMARY KEY, v text);"
         "CREATE PUBLICATION gold_cd_pub FOR TABLE gold_cd")
    c = Conn()
    c.query("CREATE_REPLICATION_SLOT gold_cd TEMPORARY LOGICAL pgoutput")
    psql("SET synchronous_commit = on; INSERT INTO gold_cd VALUES (1, 'hello')")
    assert c.query("START_REPLICATION SLOT gold_cd LOGICAL 0/0 "
                   "(proto_version '1', publication_names 'gold_cd_pub')") == b"W"
    frames = []
    sent_reply = False
    while True:
        t, m = c.recv()
        if t != b"d":
            sys.exit(f"unexpected message {t!r}")
        frames.append(m)
        if m[:1] == b"w" and m[25:26] == b"C" and not sent_reply:
            # standby status update confirming everything, reply requested:
            # the server answers with a keepalive
            wal_end = struct.unpack("!Q", m[9:17])[0]
            now = int(time.time() * 1_000_000) - PG_EPOCH_UNIX_US
            c.send(b"d", b"r" + struct.pack("!QQQqB", wal_end, wal_end, wal_end, now, 1))
            sent_reply = True
        elif m[:1] == b"k" and sent_reply and m[17:18] == b"\x01":
            # with nothing more from us, the walsender asks for a reply once
            # half of wal_sender_timeout has passed (30 s with the harness)
            break
    c.send(b"c", b"")  # CopyDone
    psql("DROP PUBLICATION gold_cd_pub; DROP TABLE gold_cd")
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "copydata.hex"), "w") as f:
        f.write("# Captured from a PostgreSQL walsender by capture_copydata.py: one CopyData\n")
        f.write("# payload per line, hex, in arrival order (START_REPLICATION of a temporary\n")
        f.write("# pgoutput slot, proto_version 1, after INSERT INTO gold_cd VALUES (1, 'hello')).\n")
        f.write("# After the Commit the client sent one standby status update with\n")
        f.write("# reply_requested = 1 (answered by a keepalive), then stayed silent until the\n")
        f.write("# server sent a keepalive asking for a reply (half of wal_sender_timeout).\n")
        for m in frames:
            f.write(m.hex() + "\n")


main()
