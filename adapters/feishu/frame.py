"""The one protobuf message of Feishu's long connection, `pbbp2.Frame`, encoded and decoded by hand.

Every WebSocket message is a binary Frame (proto2): SeqID=1 uint64, LogID=2 uint64, service=3 int32,
method=4 int32 (0 control, 1 data), headers=5 repeated Header{key=1, value=2}, payload_encoding=6,
payload_type=7, payload=8 (bytes), LogIDNew=9. Only varints and length-delimited fields occur, so a
small codec saves a runtime dependency on protobuf. It writes fields in number order and an optional
field only when present (None means absent; "" is present and empty), as protobuf does, so a frame
echoed back as an ack comes out byte for byte as the official SDK's would. Unknown fields are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONTROL = 0
DATA = 1

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_U64 = (1 << 64) - 1


class FrameError(ValueError):
    """The bytes are not a pbbp2.Frame."""


@dataclass(slots=True)
class Frame:
    seq_id: int = 0
    log_id: int = 0
    service: int = 0
    method: int = CONTROL
    headers: list[tuple[str, str]] = field(default_factory=list)
    payload_encoding: str | None = None
    payload_type: str | None = None
    payload: bytes | None = None
    log_id_new: str | None = None

    def header(self, key: str) -> str | None:
        """The first header with this key (the SDK reads headers the same way)."""
        return next((value for k, value in self.headers if k == key), None)


def encode(frame: Frame) -> bytes:
    out = bytearray()
    _varint_field(out, 1, frame.seq_id & _U64)
    _varint_field(out, 2, frame.log_id & _U64)
    _varint_field(out, 3, frame.service & _U64)  # a negative int32 is sign-extended to ten bytes
    _varint_field(out, 4, frame.method & _U64)
    for key, value in frame.headers:
        header = bytearray()
        _len_field(header, 1, key.encode())
        _len_field(header, 2, value.encode())
        _len_field(out, 5, bytes(header))
    for number, text in ((6, frame.payload_encoding), (7, frame.payload_type)):
        if text is not None:
            _len_field(out, number, text.encode())
    if frame.payload is not None:
        _len_field(out, 8, frame.payload)
    if frame.log_id_new is not None:
        _len_field(out, 9, frame.log_id_new.encode())
    return bytes(out)


def decode(data: bytes) -> Frame:
    frame = Frame()
    seen: set[int] = set()
    for number, value in _fields(data):
        seen.add(number)
        match number, value:
            case 1, int():
                frame.seq_id = value
            case 2, int():
                frame.log_id = value
            case 3, int():
                frame.service = _int32(value)
            case 4, int():
                frame.method = _int32(value)
            case 5, bytes():
                frame.headers.append(_header(value))
            case 6, bytes():
                frame.payload_encoding = _text(value)
            case 7, bytes():
                frame.payload_type = _text(value)
            case 8, bytes():
                frame.payload = value
            case 9, bytes():
                frame.log_id_new = _text(value)
            case 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9, _:
                raise FrameError(f"field {number} has the wrong wire type")
    if missing := {1, 2, 3, 4} - seen:
        raise FrameError(f"required field(s) {sorted(missing)} missing")
    return frame


def _header(data: bytes) -> tuple[str, str]:
    key = value = None
    for number, raw in _fields(data):
        match number, raw:
            case 1, bytes():
                key = _text(raw)
            case 2, bytes():
                value = _text(raw)
            case 1 | 2, _:
                raise FrameError(f"header field {number} has the wrong wire type")
    if key is None or value is None:
        raise FrameError("header without key or value")
    return key, value


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) in order: varints as ints, length-delimited as bytes, fixed-width skipped."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _read_varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise FrameError("field number 0")
        value: int | bytes
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise FrameError("truncated length-delimited field")
            value, pos = data[pos : pos + size], pos + size
        elif wire in (_I64, _I32):
            pos += 8 if wire == _I64 else 4
            if pos > len(data):
                raise FrameError("truncated fixed-width field")
            continue
        else:
            raise FrameError(f"unsupported wire type {wire}")
        fields.append((number, value))
    return fields


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise FrameError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & _U64, pos
    raise FrameError("varint longer than ten bytes")


def _write_varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


def _varint_field(out: bytearray, number: int, value: int) -> None:
    _write_varint(out, number << 3 | _VARINT)
    _write_varint(out, value)


def _len_field(out: bytearray, number: int, value: bytes) -> None:
    _write_varint(out, number << 3 | _LEN)
    _write_varint(out, len(value))
    out += value


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _text(value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError as exc:
        raise FrameError("a string field is not UTF-8") from exc
