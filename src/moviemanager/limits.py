"""The request body cap: an upload past MOVIEMANAGER_MAX_UPLOAD_MB is refused with 413 as it streams."""

from fastapi import HTTPException
from starlette.responses import JSONResponse
from starlette.types import Message, Receive


class BodyCap:
    """Refuses a body whose declared length is over the cap before reading it, and stops reading
    one that streams past the cap (chunked, or lying about its length)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def refuses(self, declared_length: bytes | None) -> bool:
        return declared_length is not None and declared_length.isdigit() and int(declared_length) > self.max_bytes

    def response(self) -> JSONResponse:
        return JSONResponse({"detail": self._detail()}, status_code=413)

    def counting(self, receive: Receive) -> Receive:
        """`receive`, raising 413 once the body passes the cap."""
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the form parsing, which FastAPI passes on as it is: a 413.
                    raise HTTPException(status_code=413, detail=self._detail())
            return message

        return counting_receive

    def _detail(self) -> str:
        return f"The upload is larger than the limit of {self.max_bytes // 2**20:,} MB (MOVIEMANAGER_MAX_UPLOAD_MB)"
