"""The response transport of `connection.py`: a response's head waits for its body so that both
leave in one write, and every byte still goes out, in order, whatever the app sends."""

from __future__ import annotations

from dataclasses import dataclass, field

from netlang.serve.connection import _OneWrite


@dataclass
class FakeTransport:
    writes: list[bytes] = field(default_factory=list)
    closed: bool = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, parts: list[bytes]) -> None:
        self.writes.append(b"".join(parts))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


@dataclass
class FakeCycle:
    response_started: bool = False
    response_complete: bool = False


def test_the_head_and_the_body_leave_in_one_write() -> None:
    transport, cycle = FakeTransport(), FakeCycle()
    wire = _OneWrite(transport, cycle)  # type: ignore[arg-type]
    cycle.response_started = True
    wire.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.writes == []
    wire.write(b"body")
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


def test_a_streamed_body_goes_out_chunk_by_chunk_after_the_head() -> None:
    transport, cycle = FakeTransport(), FakeCycle()
    wire = _OneWrite(transport, cycle)  # type: ignore[arg-type]
    wire.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the response starts: straight out
    cycle.response_started = True
    for part in (b"head", b"one", b"two", b"three"):
        wire.write(part)
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n", b"headone", b"two", b"three"]


def test_closing_after_a_head_alone_still_sends_the_head() -> None:
    transport, cycle = FakeTransport(), FakeCycle(response_started=True)
    wire = _OneWrite(transport, cycle)  # type: ignore[arg-type]
    wire.write(b"head")
    wire.close()
    assert transport.writes == [b"head"] and transport.closed and wire.is_closing()
