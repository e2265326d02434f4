"""TOTP (RFC 6238) as a second factor users can add ("添加安全信息").

Enrolment stores a new secret sealed on the user (not yet required), shows it as a QR code and a text key, and
enables it once the user types a valid code. From then on every sign-in asks for a code. Each accepted time step
is remembered (``totp_last_step``) and claimed with a conditional update, so a code cannot be used twice.
"""

from __future__ import annotations

import time

import pyotp

ISSUER = "灵境 Lingjing"
STEP = 30


class TotpReplay(Exception):
    """This code (time step) was already used."""


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account_label: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_label, issuer_name=ISSUER)


def matching_step(secret: str, code: str, *, now: float | None = None, window: int = 1) -> int | None:
    """The time step whose code equals ``code`` (allowing ``window`` steps of clock drift), or None."""
    code = (code or "").strip().replace(" ", "")
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    current = int(now // STEP)
    for step in range(current - window, current + window + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def qr_svg(uri: str) -> bytes:
    """The provisioning URI as an SVG QR code (served as ``image/svg+xml`` from our own origin)."""
    import io

    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
