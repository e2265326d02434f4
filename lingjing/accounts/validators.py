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
