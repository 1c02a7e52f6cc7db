"""Hangup causes as Asterisk names them, ARI's hangup reasons, and chan_pjsip's SIP mapping."""

from __future__ import annotations

# Q.850 cause -> the text ChannelDestroyed carries (Asterisk's cause table, main/channel.c).
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    26: "Answered elsewhere",
    27: "Destination out of order",
    28: "Invalid number format",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    58: "Bearer capability not available",
    127: "Interworking, unspecified",
}

# ``DELETE /channels/{id}?reason=`` values and the cause each sets (resource_channels.c).
REASONS = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}

# chan_pjsip's hangup_cause2sip(): the final response an unanswered channel ends with.
# 0 means "no mapping": an unanswered inbound call is then declined with 603.
_CAUSE_TO_SIP = {1: 404, 2: 404, 3: 404, 34: 503, 42: 503, 18: 408, 19: 480, 20: 480, 21: 403,
                 22: 410, 31: 480, 28: 484, 17: 486, 38: 500, 29: 501, 66: 503, 27: 502, 58: 488,
                 127: 500, 23: 302}  # fmt: skip

SIP_PHRASE = {
    302: "Moved Temporarily",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    410: "Gone",
    480: "Temporarily Unavailable",
    484: "Address Incomplete",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    603: "Decline",
}


def cause_txt(cause: int) -> str:
    return CAUSE_TEXT.get(cause, "Unknown")


def sip_code(cause: int) -> int:
    return _CAUSE_TO_SIP.get(cause, 0)


def sip_final(code: int) -> str:
    """``486 Busy Here``: how the simulator's call log names a final SIP response."""
    return f"{code} {SIP_PHRASE.get(code, '')}".strip()
