#!/usr/bin/python3
"""holdconn.py HOST PORT - one TCP connection to Redis that stays open,
driven line by line from stdin: "GET k", "SET k v", ... ; each reply is
printed on one line ("(nil)" for a null, "ERR ..." for an error).
EOF closes the connection. Used by the lifecycle test (bash coproc)."""
import sys

import redis

host = sys.argv[1]
port = int(sys.argv[2])
r = redis.Redis(host=host, port=port, single_connection_client=True,
                socket_timeout=5)
r.ping()
print("connected", flush=True)
for line in sys.stdin:
    args = line.split()
    if not args:
        continue
    try:
        v = r.execute_command(*args)
        if v is None:
            v = "(nil)"
        elif isinstance(v, bytes):
            v = v.decode(errors="replace")
        print(v, flush=True)
    except redis.RedisError as e:
        print("ERR", e, flush=True)
r.close()
