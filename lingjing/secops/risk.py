"""The risk engine: signals from the security log, a score per sign-in attempt, and an explained outcome.

Design
------
1. **Signals** are counted in the pseudonymised security log (:class:`~lingjing.secops.models.SecurityEvent`),
   which every web and worker process writes, so the picture is shared without any in-process state. Each signal
   adds ``weight`` points per count beyond ``free``, at most ``cap`` (:data:`SIGNALS`). Failed attempts that never
   reached a credential check (the account's back-off lock, an earlier block) are not counted: they carry no
   guessing power, and counting them would let anyone keep an account locked for ever.
2. **Outcomes**: ``allow`` below ``LINGJING_RISK_STEP_UP_SCORE`` (50); ``step_up`` up to
   ``LINGJING_RISK_BLOCK_SCORE`` (100): the password alone no longer signs in, an SMS code or the authenticator's
   code is needed; ``block`` from there: the attempt is refused without checking credentials.
   The account signals are capped below the block score, so failures from elsewhere can force a step-up on an
   account but never lock its owner out; a block needs failures from the requesting source itself.
3. **Every outcome about an account is an automated decision** (``decisions.record_decision``, kind ``risk``)
   with its explanation in Chinese and English: the person sees it in the privacy centre and can ask for a human
   review. Sign-in challenges are temporary security measures, not decisions on the person's rights, so they are
   recorded as not significant. Step-ups and blocks are also written to the security log for the security
   officer; an attempt against a number without an account is logged there only (there is nobody to decide about).

Defaults are generous enough that normal use and the back-off of ``accounts.auth`` (5 failures lock for a minute)
act first: one source needs 10 failures within the hour to meet a step-up, 20 to be blocked.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from lingjing.core import ratelimit
from lingjing.core.ratelimit import Limit, client_ip, ip_group
from lingjing.secops import pseudonyms
from lingjing.secops.models import EventKind, SecurityEvent

RULE_VERSION = "risk-sign-in-1"
ABUSE_WINDOW = dt.timedelta(minutes=30)

# Failure reasons of accounts.auth that reached a credential check (and so count as guesses).
COUNTED_REASONS = frozenset({"bad_password", "bad_code", "bad_totp", "inactive"})
# Reasons that are part of a normal flow (a second factor asked for): not failures at all.
FLOW_REASONS = frozenset({"totp_required", "step_up_required"})


@dataclass(frozen=True)
class Signal:
    name: str
    weight: int
    free: int
    cap: int
    zh: str
    en: str

    def points(self, count: int) -> int:
        return min(self.cap, max(0, count - self.free) * self.weight)


SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal("account_failures", 4, 0, 60, "该账号近 1 小时内有 {n} 次登录失败",
               "{n} failed sign-ins to this account in the last hour"),
        Signal("source_failures", 2, 0, 60, "同一网络地址近 1 小时内有 {n} 次登录失败",
               "{n} failed sign-ins from the same address in the last hour"),
        Signal("source_accounts", 8, 3, 60, "同一网络地址近 1 小时内尝试登录了 {n} 个不同账号",
               "{n} different accounts tried from the same address in the last hour"),
        Signal("net_accounts", 3, 10, 40, "同一网段近 1 小时内尝试登录了 {n} 个不同账号",
               "{n} different accounts tried from the same network in the last hour"),
        Signal("new_device", 25, 0, 25, "首次在此设备或网络上登录",
               "first sign-in from this device or network"),
        Signal("sms_anomaly", 10, 0, 30, "该号码或网络地址在本小时内有 {n} 次短信验证码发送受限",
               "{n} refused SMS code requests for this number or address this hour"),
        Signal("abusive_source", 60, 0, 60, "该网络地址近期存在异常请求速率或批量抓取",
               "this address recently made requests at impossible rates or scraped in bulk"),
    )
}

OUTCOME_TEXT = {
    "allow": ("允许登录", "sign-in allowed"),
    "step_up": ("需要进一步验证身份：请使用短信验证码或身份验证器动态码登录",
                "extra verification needed: sign in with an SMS code or the authenticator's code"),
    "block": ("暂时阻止登录", "sign-in temporarily blocked"),
}
DECISION_OUTCOME = {"allow": "sign_in_allowed", "step_up": "sign_in_step_up", "block": "sign_in_blocked"}


@dataclass
class Assessment:
    score: int = 0
    outcome: str = "allow"
    counts: dict[str, int] = field(default_factory=dict)
    points: dict[str, int] = field(default_factory=dict)
    retry_after: int = 0
    decision_id: str | None = None

    @property
    def blocked(self) -> bool:
        return self.outcome == "block"

    @property
    def step_up(self) -> bool:
        return self.outcome == "step_up"

    @property
    def message(self) -> str:
        if self.blocked:
            minutes = max(1, math.ceil(self.retry_after / 60))
            return f"检测到异常登录行为，已暂时阻止登录，请 {minutes} 分钟后再试，或联系客服"
        if self.step_up:
            return "检测到异常登录行为，为保护您的账号，请改用短信验证码登录（或输入身份验证器中的动态码）"
        return ""

    def explanation(self, lang: str = "zh") -> str:
        en = lang == "en"
        reasons = [
            (SIGNALS[name].en if en else SIGNALS[name].zh).format(n=self.counts.get(name, 0)) + f" (+{pts})"
            for name, pts in self.points.items()
            if pts
        ]
        step, block = thresholds()
        outcome = OUTCOME_TEXT[self.outcome][1 if en else 0]
        if en:
            why = "; ".join(reasons) if reasons else "no risk signal"
            return (f"Sign-in risk score {self.score} (extra verification from {step}, block from {block}): "
                    f"{why}. Result: {outcome}.")
        why = "；".join(reasons) if reasons else "未发现风险信号"
        return f"登录风险评分 {self.score}（{step} 分起需进一步验证，{block} 分起阻止）：{why}。结果：{outcome}。"


def thresholds() -> tuple[int, int]:
    return settings.LINGJING_RISK_STEP_UP_SCORE, settings.LINGJING_RISK_BLOCK_SCORE


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LINGJING_RISK_WINDOW_SECONDS)


def channel_of(request: Any) -> str:
    if request is None:
        return ""
    return "api" if str(getattr(request, "path", "")).startswith("/api/") else "web"


# --- signals ------------------------------------------------------------------------------------------------


def _counts(
    actor: str, ip_key: str, net_key: str, user: Any, device: str, now: dt.datetime, phone_index: str, ip: str
) -> dict[str, int]:
    since = now - _window()
    failures = SecurityEvent.objects.filter(kind=EventKind.SIGN_IN_FAILED, at__gte=since)
    counts: dict[str, int] = {}
    if actor:
        counts["account_failures"] = failures.filter(actor_key=actor).count()
    if ip_key:
        from_source = failures.filter(ip_key=ip_key)
        counts["source_failures"] = from_source.count()
        counts["source_accounts"] = from_source.exclude(actor_key="").values("actor_key").distinct().count()
    if net_key:
        counts["net_accounts"] = (
            failures.filter(net_key=net_key).exclude(actor_key="").values("actor_key").distinct().count()
        )
    if user is not None and device:
        known = SecurityEvent.objects.filter(kind=EventKind.SIGN_IN_SUCCEEDED, actor_key=actor)
        counts["new_device"] = int(known.exists() and not known.filter(device_key=device).exists())
    counts["sms_anomaly"] = sms_refusals(phone_index, ip)
    if ip_key:
        counts["abusive_source"] = int(
            SecurityEvent.objects.filter(
                kind__in=[EventKind.IMPOSSIBLE_RATE, EventKind.BULK_SCRAPING], ip_key=ip_key, at__gte=now - ABUSE_WINDOW
            ).exists()
        )
    return counts


def score(counts: dict[str, int]) -> tuple[int, dict[str, int]]:
    points = {name: SIGNALS[name].points(n) for name, n in counts.items()}
    return sum(points.values()), {k: v for k, v in points.items() if v}


def outcome_for(total: int) -> str:
    step, block = thresholds()
    if total >= block:
        return "block"
    if total >= step:
        return "step_up"
    return "allow"


def _retry_after(actor: str, ip_key: str, now: dt.datetime) -> int:
    """The earliest moment a blocked source's score can fall: when its oldest counted failure leaves the window."""
    mine = Q(actor_key=actor) if actor else Q(pk__in=[])
    if ip_key:
        mine |= Q(ip_key=ip_key)
    oldest = (
        SecurityEvent.objects.filter(mine, kind=EventKind.SIGN_IN_FAILED, at__gte=now - _window())
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )
    if oldest is None:
        return 60
    return max(1, math.ceil((oldest + _window() - now).total_seconds()))


# --- the sign-in hook ---------------------------------------------------------------------------------------


def assess_sign_in(request: Any, *, phone_index: str, user: Any, method: str) -> Assessment:
    """Score one sign-in attempt before its credentials are checked; log and decide (see the module docstring).

    ``phone_index`` is the blind index of the number tried; ``user`` its account, or None.
    """
    from lingjing.secops.actions import do_record_sign_in_assessment

    now = timezone.now()
    actor = pseudonyms.actor_key(user, phone_index)
    ip_key, net_key = pseudonyms.source_keys(request)
    device = pseudonyms.device_key(getattr(user, "pk", None), request)
    ip = client_ip(request) if request is not None else ""
    counts = _counts(actor, ip_key, net_key, user, device, now, phone_index, ip)
    total, points = score(counts)
    result = Assessment(score=total, outcome=outcome_for(total), counts=counts, points=points)
    if result.blocked:
        result.retry_after = _retry_after(actor, ip_key, now)
    if result.outcome == "allow" and user is None:
        return result  # nobody to decide about, nothing unusual to log
    event = None
    if result.outcome != "allow":
        event = SecurityEvent(
            kind=EventKind.SIGN_IN_BLOCKED if result.blocked else EventKind.SIGN_IN_CHALLENGED,
            channel=channel_of(request), detail=method[:64], outcome=result.outcome, score=min(total, 32767),
            signals=counts, actor_key=actor, ip_key=ip_key, net_key=net_key, device_key=device,
        )
    result.decision_id = do_record_sign_in_assessment(result, user=user, event=event, method=method)
    return result


# --- SMS refusals ---------------------------------------------------------------------------------------------
# Counted in the shared cache per number and per address (a pumping run refuses thousands of sends a minute: one
# log row each would flood the log and slow the refusals); the security log gets one entry per limit per minute.

_SMS_REFUSED = Limit("risk:sms-refused", 1_000_000_000, 3600)


def note_sms_refusal(e164: str, ip: str, limit_name: str) -> None:
    """An SMS code request was refused by ``limit_name`` (``accounts.codes``): count it, log it now and then."""
    from lingjing.security.crypto import blind_index

    index = blind_index(e164)
    try:
        ratelimit.hit(_SMS_REFUSED, f"p:{index}")
        ratelimit.hit(_SMS_REFUSED, f"ip:{ip_group(ip)}")
        first = ratelimit.cooldown("secops:sms-refusal-logged", limit_name, 60).allowed
    except ratelimit.LimiterUnavailable:
        return  # the send is refused anyway; the signal is lost, not the protection
    if first:
        from lingjing.secops.actions import do_log_sms_refusal

        do_log_sms_refusal(e164, ip, limit_name)


def sms_refusals(phone_index: str, ip: str) -> int:
    """Refused SMS requests for this number or from this address in the current hour."""
    total = 0
    for key in ([f"p:{phone_index}"] if phone_index else []) + ([f"ip:{ip_group(ip)}"] if ip else []):
        try:
            total += max(0, int(ratelimit.peek(_SMS_REFUSED, key).count) - 1)
        except ratelimit.LimiterUnavailable:
            continue
    return total


def log_sign_in_failure(*, user: Any, phone_index: str, method: str, reason: str, request: Any) -> None:
    """Write the security-log side of a failed attempt. Runs inside ``accounts.actions.do_record_login_failure``'s
    transaction, next to its audit row."""
    if reason in FLOW_REASONS or reason == "risk_blocked":  # the assessment logged the challenge or the block
        return
    ip_key, net_key = pseudonyms.source_keys(request)
    counted = reason in COUNTED_REASONS
    SecurityEvent.objects.create(
        kind=EventKind.SIGN_IN_FAILED if counted else EventKind.SIGN_IN_BLOCKED,
        channel=channel_of(request), detail=reason[:64], outcome="" if counted else "refused",
        actor_key=pseudonyms.actor_key(user, phone_index), ip_key=ip_key, net_key=net_key,
        device_key=pseudonyms.device_key(getattr(user, "pk", None), request),
        signals={"method": method[:16]},
    )


def log_sign_in_success(user: Any, request: Any, *, method: str, channel: str) -> None:
    """Write the security-log side of a sign-in (inside the sign-in's own transaction and audit row)."""
    ip_key, net_key = pseudonyms.source_keys(request)
    SecurityEvent.objects.create(
        kind=EventKind.SIGN_IN_SUCCEEDED, channel=channel[:8], detail=method[:64], outcome="allow",
        actor_key=pseudonyms.account_key(user.pk), ip_key=ip_key, net_key=net_key,
        device_key=pseudonyms.device_key(user.pk, request),
    )
