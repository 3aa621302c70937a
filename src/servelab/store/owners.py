"""Which process writes a running bench, and benches whose writer is gone.

A bench is stored as ``running`` when it begins, with its owner: ``host|pid|start time``. A
process killed outright (SIGKILL, power loss) never marks it finished; the next process that
opens the store on the same host sees that the owner no longer runs and marks the bench
``interrupted`` (its finished runs stay). Benches written on other hosts are left alone.
"""

from __future__ import annotations

import os
import socket
import time

from sqlalchemy import Connection, select

from servelab.procgroup import process_alive, start_time
from servelab.store.tables import benches


def owner_token() -> str:
    """This process, as stored in ``benches.owner``."""
    return f"{socket.gethostname()}|{os.getpid()}|{start_time(os.getpid()) or ''}"


def _gone(owner: str, host: str) -> bool:
    parts = owner.split("|")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    return not process_alive(int(parts[1]), parts[2] or None)


def mark_abandoned(conn: Connection) -> list[str]:
    """Mark this host's running benches whose writer is gone as interrupted; their ids."""
    host = socket.gethostname()
    rows = conn.execute(
        select(benches.c.id, benches.c.owner).where(
            benches.c.status == "running", benches.c.owner.like(f"{host}|%")
        )
    ).all()
    gone = [row.id for row in rows if row.owner and _gone(row.owner, host)]
    if gone:
        conn.execute(
            benches.update()
            .where(benches.c.id.in_(gone), benches.c.status == "running")
            .values(status="interrupted", finished_at=time.time())
        )
    return gone
