"""Anonymous sessions joined to their users (spec §12.3): events sent with only a sessionId belong,
at the next training, to the user a later event named together with that sessionId."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

SESSION = "_session"


def join_sessions(table: pa.Table) -> pa.Table:
    """USER_ID filled in from the session where an event had none; the session column dropped."""
    if SESSION not in table.column_names:
        return table
    users, sessions = table.column("USER_ID"), table.column(SESSION)
    anonymous = pc.and_(pc.is_null(users), pc.is_valid(sessions))
    if not pc.any(anonymous).as_py():
        return table.drop_columns([SESSION])
    named = table.filter(pc.and_(pc.is_valid(users), pc.is_valid(sessions)))
    # A session named with several users belongs to the last one (rows are in write order).
    owners = named.group_by(SESSION, use_threads=False).aggregate([("USER_ID", "last")])
    owner = pc.take(owners.column("USER_ID_last"), pc.index_in(sessions, value_set=owners.column(SESSION)))
    joined = table.set_column(table.column_names.index("USER_ID"), "USER_ID", pc.coalesce(users, owner))
    return joined.drop_columns([SESSION])
