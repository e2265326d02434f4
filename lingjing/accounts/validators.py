from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class MaximumLengthValidator:
    """Long passphrases are welcome (at least 64 characters are allowed); absurd lengths are refused."""

    def __init__(self, max_length: int = 128) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(f"密码不能超过 {self.max_length} 个字符", code="password_too_long")

    def get_help_text(self) -> str:
        return f"密码最多 {self.max_length} 个字符"


# --- nicknames --------------------------------------------------------------------------------------------

NICKNAME_MIN = 2
NICKNAME_MAX = 20
# Words that would let a member pass for the platform or its staff. Compared after NFKC + casefold, spaces removed.
RESERVED_NICKNAME_WORDS = (
    "管理员", "管理員", "官方", "客服", "灵境", "靈境", "系统", "系統", "超管", "运营", "審核", "审核",
    "admin", "administrator", "official", "support", "system", "lingjing", "moderator",
)


def nickname_key(nickname: str) -> str:
    """The form nicknames are compared in: NFKC, case-folded, without spaces (``Ａｌｉｃｅ`` = ``alice``)."""
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", nickname).casefold().split())


def clean_nickname(raw: str) -> str:
    """A nickname fit to store, or ValidationError with a Chinese message.

    Rules: 2–20 characters after trimming; letters, digits, CJK, and ``_ - · .`` and single spaces; no reserved
    words. Uniqueness (case-insensitive, width-insensitive) is checked by the action against ``nickname_key``.
    """
    import re
    import unicodedata

    nickname = " ".join(unicodedata.normalize("NFKC", raw or "").split())
    if len(nickname) < NICKNAME_MIN or len(nickname) > NICKNAME_MAX:
        raise ValidationError(f"昵称长度应为 {NICKNAME_MIN}–{NICKNAME_MAX} 个字符", code="nickname_length")
    for ch in nickname:
        category = unicodedata.category(ch)
        if not (category[0] in "LN" or ch in " _-·." or category == "Mn"):
            raise ValidationError("昵称只能包含文字、数字、空格和 _ - · .", code="nickname_chars")
    if re.fullmatch(r"[\d\s._\-·]+", nickname):
        raise ValidationError("昵称不能只由数字或符号组成", code="nickname_chars")
    key = nickname_key(nickname)
    for word in RESERVED_NICKNAME_WORDS:
        if nickname_key(word) in key:
            raise ValidationError("昵称包含保留字词，请换一个", code="nickname_reserved")
    return nickname
