"""Loaded by every Python process a Tiger test starts with this folder on PYTHONPATH: an audit
hook writes each address a socket connects to or looks up to `$TIGER_AUDIT_FILE`, so the test
can check that nothing but loopback was tried (a look-up of Tiger's hosts is caught too)."""

import json
import os
import sys

_FILE = os.environ.get("TIGER_AUDIT_FILE")


def _record(event: str, args: tuple[object, ...]) -> None:
    if event == "socket.connect":
        address = args[1]
    elif event == "socket.getaddrinfo":
        address = (args[0], args[1])
    else:
        return
    if _FILE:
        with open(_FILE, "a", encoding="utf-8") as out:
            out.write(json.dumps({"event": event, "address": repr(address)}) + "\n")


if _FILE:
    sys.addaudithook(_record)
