"""Running a command with its stdout and its stderr each on a terminal of its own (a pseudo
terminal), as an operator sees it: what each showed."""

from __future__ import annotations

import os
import pty
import select
import subprocess
from collections.abc import Sequence


def on_terminal(argv: Sequence[str], env: dict[str, str], timeout: float = 900) -> tuple[str, str]:
    """Run ``argv`` with ``env``; what its stdout and its stderr showed. It must succeed."""
    out_master, out_slave = pty.openpty()
    err_master, err_slave = pty.openpty()
    proc = subprocess.Popen(list(argv), env=env, stdin=subprocess.DEVNULL, stdout=out_slave, stderr=err_slave)
    os.close(out_slave)
    os.close(err_slave)
    shown = {out_master: b"", err_master: b""}
    open_fds = [out_master, err_master]
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [], timeout)
        assert ready, f"no output for {timeout:.0f} s"
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal closed (EIO)
                chunk = b""
            if chunk:
                shown[fd] += chunk
            else:
                open_fds.remove(fd)
    assert proc.wait(timeout=timeout) == 0, shown[err_master].decode(errors="replace")
    for fd in shown:
        os.close(fd)
    return shown[out_master].decode(errors="replace"), shown[err_master].decode(errors="replace")
