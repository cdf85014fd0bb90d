"""The hand-written pbbp2.Frame codec, judged byte for byte by lark-oapi's generated protobuf module."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lark_oapi.ws.pb.pbbp2_pb2 import Frame as PbFrame

from adapters.feishu.frame import CONTROL, DATA, Frame, FrameError, decode, encode

U64 = st.integers(0, 2**64 - 1)
I32 = st.integers(-(2**31), 2**31 - 1)
TEXT = st.text(max_size=20)
OPTIONAL_TEXT = st.none() | TEXT

frames = st.builds(
    Frame,
    seq_id=U64,
    log_id=U64,
    service=I32,
    method=I32,
    headers=st.lists(st.tuples(TEXT, TEXT), max_size=5),
    payload_encoding=OPTIONAL_TEXT,
    payload_type=OPTIONAL_TEXT,
    payload=st.none() | st.binary(max_size=64),
    log_id_new=OPTIONAL_TEXT,
)


def to_pb(frame: Frame) -> PbFrame:
    pb = PbFrame(SeqID=frame.seq_id, LogID=frame.log_id, service=frame.service, method=frame.method)
    for key, value in frame.headers:
        header = pb.headers.add()
        header.key, header.value = key, value
    optional: list[tuple[str, str | bytes | None]] = [
        ("payload_encoding", frame.payload_encoding),
        ("payload_type", frame.payload_type),
        ("payload", frame.payload),
        ("LogIDNew", frame.log_id_new),
    ]
    for name, set_value in optional:
        if set_value is not None:
            setattr(pb, name, set_value)
    return pb


def from_pb(pb: PbFrame) -> Frame:
    def present(name: str) -> str | bytes | None:
        return getattr(pb, name) if pb.HasField(name) else None

    return Frame(
        seq_id=pb.SeqID,
        log_id=pb.LogID,
        service=pb.service,
        method=pb.method,
        headers=[(h.key, h.value) for h in pb.headers],
        payload_encoding=present("payload_encoding"),  # type: ignore[arg-type]
        payload_type=present("payload_type"),  # type: ignore[arg-type]
        payload=present("payload"),  # type: ignore[arg-type]
        log_id_new=present("LogIDNew"),  # type: ignore[arg-type]
    )


def test_the_sdks_ping_frame() -> None:
    pb = PbFrame(SeqID=0, LogID=0, service=42, method=CONTROL)
    header = pb.headers.add()
    header.key, header.value = "type", "ping"
    ours = Frame(service=42, method=CONTROL, headers=[("type", "ping")])
    assert encode(ours) == pb.SerializeToString()
    assert decode(pb.SerializeToString()) == ours


def test_an_event_frame_and_its_ack() -> None:
    headers = [("type", "event"), ("message_id", "m-1"), ("sum", "1"), ("seq", "0"), ("trace_id", "t")]
    frame = Frame(7, 8, 9, DATA, headers, payload='{"schema":"2.0","飞":"书"}'.encode(), log_id_new="")
    pb = to_pb(frame)
    assert encode(frame) == pb.SerializeToString()
    pb.headers.add(key="biz_rt", value="3")
    pb.payload = b'{"code": 200}'
    frame.headers.append(("biz_rt", "3"))
    frame.payload = b'{"code": 200}'
    assert encode(frame) == pb.SerializeToString()


@given(frames)
def test_encode_matches_protobuf(frame: Frame) -> None:
    assert encode(frame) == to_pb(frame).SerializeToString()


@given(frames)
def test_decode_reads_what_protobuf_writes(frame: Frame) -> None:
    data = to_pb(frame).SerializeToString()
    assert decode(data) == frame
    parsed = PbFrame()
    parsed.ParseFromString(encode(decode(data)))
    assert from_pb(parsed) == frame


def test_fields_in_any_order_and_unknown_fields_are_read_as_protobuf_does() -> None:
    data = (
        bytes.fromhex("2001")  # method=1 first
        + bytes.fromhex("5005")  # unknown varint field 10
        + bytes.fromhex("5a03616263")  # unknown length-delimited field 11
        + bytes.fromhex("6101020304050607 08".replace(" ", ""))  # unknown fixed64 field 12
        + bytes.fromhex("0801 1002 1803")
        + bytes.fromhex("6d01020304")  # unknown fixed32 field 13
        + bytes.fromhex("1804")  # a repeated scalar: the last one wins
    )
    pb = PbFrame()
    pb.ParseFromString(data)
    assert decode(data) == from_pb(pb) == Frame(1, 2, 4, 1)


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("0801 1002 18"),  # truncated varint
        bytes.fromhex("0801 1002 1803"),  # method missing
        bytes.fromhex("0801 1002 1803 2001 4205 7061"),  # payload shorter than its length
        bytes.fromhex("0801 1002 1803 2001 2a02 0a00"),  # header without value
        bytes.fromhex("0801 1002 1803 2001 3202 ff fe"),  # payload_encoding not UTF-8
        bytes.fromhex("0a01 00 1002 1803 2001"),  # SeqID as bytes
        bytes.fromhex("08" + "ff" * 10 + "01"),  # varint too long
        bytes.fromhex("0b"),  # group wire type
    ],
)
def test_garbage_is_a_frame_error(data: bytes) -> None:
    with pytest.raises(FrameError):
        decode(data)


def test_header_lookup_takes_the_first() -> None:
    frame = Frame(headers=[("type", "event"), ("type", "card")])
    assert frame.header("type") == "event"
    assert frame.header("sum") is None
