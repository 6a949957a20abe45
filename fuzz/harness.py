"""One fuzz input through one of kcore.codec's decoders. The first byte picks the decoder and
the chunk size for the watch decoders; the rest is the body or stream. Bad input must end in
DecodeError (or decode); any other exception, a crash or a hang is a bug."""

from __future__ import annotations

from kcore.codec import JSON, PROTOBUF, DecodeError, WatchDecoder, decode, decode_compact

MODES = ("decode protobuf", "decode json", "compact protobuf", "compact json", "watch protobuf", "watch json", "compact watch protobuf")


def run_one(data: bytes) -> None:
    if not data:
        return
    mode, body = MODES[data[0] % len(MODES)], data[1:]
    ctype = PROTOBUF if "protobuf" in mode else JSON
    try:
        if mode.startswith("decode"):
            decode(body, ctype)
        elif mode.startswith("compact") and "watch" not in mode:
            decode_compact(body, ctype).__repr__()
        else:
            decoder = WatchDecoder(ctype, compact="compact" in mode)
            step = 1 + data[0] // len(MODES)
            for i in range(0, len(body), step):
                for _, obj in decoder.feed(body[i : i + step]):
                    repr(obj)
            decoder.close()
    except DecodeError:
        pass


def seed(mode: str, body: bytes) -> bytes:
    """A corpus entry running `body` through `mode`."""
    return bytes([MODES.index(mode)]) + body
