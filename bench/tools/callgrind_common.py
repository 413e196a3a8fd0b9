"""What bench/tools/jwt_callgrind.py and proxy_callgrind.py share: running
commands, waiting for a listener, and reading a callgrind dump."""

import os
import re
import socket
import subprocess
import time


def sh(cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def wait_port(port, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nothing listens on %d" % port)


def counts(dump):
    """The dump's "summary:" (what was counted since the last zeroing or
    dump: the figure to use) and "totals:" (after a "callgrind_control
    -z", it also holds what was zeroed of the functions on the stack)."""
    out = {}
    for line in open(dump, errors="replace"):
        for k in ("summary:", "totals:"):
            if line.startswith(k):
                out[k[:-1]] = int(line.split()[1])
    if "summary" not in out:
        raise RuntimeError("%s: no summary" % dump)
    return out


def annotate(dump, n, inclusive):
    """callgrind_annotate's functions, costliest first, each once:
    (instructions per request, function, file)."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=" + inclusive,
                           "--threshold=100", dump],
                          capture_output=True, text=True).stdout
    rows, seen = [], set()
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S+):(\S+)", line)
        if m and m.group(3) not in seen:
            seen.add(m.group(3))
            rows.append((int(m.group(1).replace(",", "")) / n, m.group(3),
                         os.path.basename(m.group(2))))
    return rows
