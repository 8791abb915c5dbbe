"""RFC 8538 Hard Reset wrapping, checked against the bytes FRR expects."""

from __future__ import annotations

from pybgp.codec.notification import Notification
from pybgp.negotiation import hard_reset, unwrap_hard_reset


def test_hard_reset_data_is_the_whole_inner_notification() -> None:
    inner = Notification.shutdown("going away")
    wrapped = hard_reset(inner)
    assert (wrapped.code, wrapped.subcode) == (6, 9)
    # RFC 8538 3: ErrCode, Subcode, then the inner Data (here the RFC 9003 message)
    assert wrapped.data[:2] == bytes((6, 2))
    assert wrapped.data[2:] == inner.data
    assert unwrap_hard_reset(wrapped) == inner
    assert unwrap_hard_reset(wrapped).shutdown_message == "going away"


def test_hard_reset_is_not_wrapped_twice() -> None:
    once = hard_reset(Notification.shutdown("x"))
    assert hard_reset(once) == once


def test_optional_parameter_other_than_capabilities_is_unsupported() -> None:
    """RFC 4271 6.2: Unsupported Optional Parameters (2/4)."""
    from dataclasses import replace

    from pybgp.negotiation import PeerSettings, build_open, check_open

    s = PeerSettings(65000, b"\x0a\x00\x00\x01", 65000)
    peer = replace(build_open(PeerSettings(65000, b"\x0a\x00\x00\x02", 65000)))
    assert check_open(s, peer) is None
    err = check_open(s, replace(peer, other_params=((200, b""),)))
    assert err is not None and (err.code, err.subcode) == (2, 4)
