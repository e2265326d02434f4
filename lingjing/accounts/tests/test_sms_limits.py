"""The SMS pumping defence: cooldown, per-number, per-address (IPv6 /64), per-prefix and global caps; fail closed;
no account enumeration through the sms-code answer."""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from lingjing.accounts.codes import RateLimited, SmsUnavailable, check_send_allowed, request_code
from lingjing.accounts.models import SmsCode
from lingjing.accounts.tests.conftest import ALICE_PHONE, BOB_PHONE, api_post, make_user, sms

pytestmark = pytest.mark.django_db


def test_resend_within_sixty_seconds_is_refused_with_retry_after(api: Client) -> None:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        first = api_post(api, "/auth/sms-code", {"phone": ALICE_PHONE, "purpose": "register"})
        assert first.status_code == 202
        traveller.shift(20)
        second = api_post(api, "/auth/sms-code", {"phone": ALICE_PHONE, "purpose": "register"})
        assert second.status_code == 429
        assert second["Retry-After"] == "40"
        body = second.json()["error"]
        assert body["code"] == "rate_limited" and "秒后再试" in body["message"]
        traveller.shift(41)
        assert api_post(api, "/auth/sms-code", {"phone": ALICE_PHONE, "purpose": "register"}).status_code == 202
    assert len(sms()) == 2


def test_per_number_hourly_and_daily_caps(settings: Any) -> None:
    settings.LINGJING_SMS_PER_NUMBER_HOUR = 3
    settings.LINGJING_SMS_PER_NUMBER_DAY = 4
    sent = 0
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(10):
            try:
                request_code(ALICE_PHONE, "login", ip=f"198.51.100.{sent + 1}")
                sent += 1
            except RateLimited:
                pass
            traveller.shift(61)
        assert sent == 3  # hourly cap
        traveller.shift(3600 * 2)
        for _ in range(5):
            try:
                request_code(ALICE_PHONE, "login", ip="198.51.100.99")
                sent += 1
            except RateLimited as exc:
                assert exc.retry_after > 0
            traveller.shift(61)
    assert sent == 4  # daily cap
    assert len(sms()) == 4


def test_ipv6_addresses_of_one_slash64_share_a_cap(settings: Any) -> None:
    settings.LINGJING_SMS_PER_IP_HOUR = 3
    phones = [f"+86139123400{n:02d}" for n in range(10, 20)]
    outcomes = []
    for n, phone in enumerate(phones):
        try:
            request_code(phone, "register", ip=f"2001:db8:1:2::{n + 1:x}")
            outcomes.append(True)
        except RateLimited:
            outcomes.append(False)
    assert outcomes.count(True) == 3
    # another /64 has its own budget
    request_code("+8613912349999", "register", ip="2001:db8:1:3::1")


def test_ten_thousand_requests_across_a_thousand_numbers_of_one_prefix_stay_in_budget(settings: Any) -> None:
    """Pumping walks a number range from many addresses: the prefix's daily cap (200) holds over the day.
    Counted at the service layer, on a frozen clock (the global budget: test_real_sends_respect_the_global_budget)."""
    global_hour, expected = 100_000, 200
    settings.LINGJING_SMS_PER_PREFIX_DAY = 200
    settings.LINGJING_SMS_GLOBAL_HOUR = global_hour
    settings.LINGJING_SMS_PER_IP_HOUR = 10_000
    settings.LINGJING_SMS_PER_IP_DAY = 10_000
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"pumping-{global_hour}", "OPTIONS": {"MAX_ENTRIES": 1_000_000}}}
    numbers = [f"+861380010{n:04d}" for n in range(1000)]  # one 7-digit prefix: 1380010
    allowed = 0
    start = time.perf_counter()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for i in range(10_000):
            if i % 1000 == 0:
                traveller.shift(61)  # each round of the thousand numbers starts past the cooldown
            try:
                check_send_allowed(numbers[i % 1000], f"10.{i % 250}.{i // 250 % 250}.1")
                allowed += 1
            except RateLimited as exc:
                assert exc.retry_after > 0
        traveller.shift(3600)  # a new hour: a fresh global budget, but the prefix's day stays spent
        for i in range(1000):
            try:
                check_send_allowed(numbers[i], "10.99.0.1")
                allowed += 1
            except RateLimited:
                pass
    assert allowed == expected
    assert time.perf_counter() - start < 30


def test_real_sends_respect_the_global_budget(settings: Any) -> None:
    settings.LINGJING_SMS_GLOBAL_HOUR = 5
    for n in range(8):
        with contextlib.suppress(RateLimited):
            request_code(f"+86137{n:08d}", "register", ip=f"198.51.100.{n}")
    assert len(sms()) == 5
    assert SmsCode.objects.count() == 5


def test_the_limiter_failing_refuses_to_send(api: Client) -> None:
    with mock.patch("lingjing.core.ratelimit._atomic_add", side_effect=ConnectionError("cache down")):
        response = api_post(api, "/auth/sms-code", {"phone": ALICE_PHONE, "purpose": "login"})
        with pytest.raises(SmsUnavailable):
            request_code(BOB_PHONE, "login", ip="198.51.100.1")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "sms_unavailable"
    assert sms() == [] and SmsCode.objects.count() == 0


def test_the_answer_is_the_same_for_known_and_unknown_numbers(settings: Any) -> None:
    settings.LINGJING_SMS_COOLDOWN = 1
    settings.LINGJING_SMS_PER_NUMBER_HOUR = 1000
    settings.LINGJING_SMS_PER_NUMBER_DAY = 1000
    settings.LINGJING_SMS_PER_IP_HOUR = 1000
    settings.LINGJING_SMS_PER_IP_DAY = 1000
    make_user(ALICE_PHONE)  # known; BOB_PHONE is not
    timings: dict[str, list[float]] = {ALICE_PHONE: [], BOB_PHONE: []}
    answers = set()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(8):
            for phone in (ALICE_PHONE, BOB_PHONE):
                for purpose in ("login", "register"):
                    traveller.shift(2)  # past the per-number cooldown (one code per number at a time)
                    client = Client(REMOTE_ADDR="198.51.100.20")
                    t0 = time.perf_counter()
                    response = api_post(client, "/auth/sms-code", {"phone": phone, "purpose": purpose})
                    timings[phone].append(time.perf_counter() - t0)
                    answers.add((response.status_code, response.content, response.get("Content-Type")))
    assert answers == {(202, b'{"status": "accepted"}', "application/json; charset=utf-8")}
    # both branches send a message: an unknown number cannot be told apart by the outbox either
    assert {m["to"] for m in sms()} == {ALICE_PHONE, BOB_PHONE}
    known, unknown = statistics.median(timings[ALICE_PHONE]), statistics.median(timings[BOB_PHONE])
    assert abs(known - unknown) < max(known, unknown) * 0.5  # within noise: same work in both branches


def test_verify_codes_need_a_signed_in_caller(api: Client) -> None:
    response = api_post(api, "/auth/sms-code", {"phone": ALICE_PHONE, "purpose": "verify"})
    assert response.status_code == 401
    assert sms() == []


def test_bad_numbers_are_rejected_in_chinese(api: Client) -> None:
    response = api_post(api, "/auth/sms-code", {"phone": "12345", "purpose": "login"})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "请输入有效的手机号码"
