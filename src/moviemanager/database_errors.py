"""What a database error means: the database unavailable (a 503 to retry), contention (a lock
or statement timeout), or a bug. Shared by the error handlers, the read pool and the repositories
that turn a lock timeout into a domain error."""

LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout
QUERY_CANCELED = "57014"  # statement_timeout
DEADLOCK_DETECTED = "40P01"  # PostgreSQL chose this transaction to break a deadlock


def sqlstate(exc: Exception) -> str | None:
    """The SQLSTATE of an asyncpg error, raw (the read pool's) or wrapped by SQLAlchemy (which
    puts asyncpg's error on the cause)."""
    orig = getattr(exc, "orig", None)
    return (
        getattr(exc, "sqlstate", None)
        or getattr(orig, "sqlstate", None)
        or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    )


# SQLSTATEs that mean "no database right now": connection exceptions (class 08), the server
# shutting down, crashed or starting up (57P01-03), too many connections (53300).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_CLOSED_MESSAGES = ("connection is closed", "connection was closed", "underlying connection is closed")


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached, rather than that a query is wrong.

    Looks through SQLAlchemy's wrapping (`orig`, `__cause__`): a refused or timed-out connect
    arrives as a bare OSError, a connection lost mid-request as an invalidated DBAPIError, and
    errors of the raw asyncpg connection used for COPY as asyncpg's own classes.
    """
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if getattr(seen, "connection_invalidated", False):
            return True
        if isinstance(seen, (ConnectionError, TimeoutError)) or type(seen).__name__ == "gaierror":
            return True
        if isinstance(seen, OSError) and _raised_while_connecting(seen):
            return True  # e.g. no socket file while a local server restarts: FileNotFoundError
        sqlstate = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if type(seen).__name__ == "InterfaceError" and str(seen).startswith(_CLOSED_MESSAGES):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _raised_while_connecting(exc: BaseException) -> bool:
    traceback = exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename.endswith(("asyncpg/connect_utils.py", "asyncpg/connection.py")):
            return True
        traceback = traceback.tb_next
    return False
