"""One-time codes: format, storage, expiry, single use, death after five misses, binding to phone + purpose."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from lingjing.accounts.codes import check_code, generate_code, request_code
from lingjing.accounts.models import SmsCode
from lingjing.accounts.tests.conftest import ALICE_PHONE, BOB_PHONE, last_code, sms

pytestmark = pytest.mark.django_db
IP = "198.51.100.7"


def test_codes_are_six_digits_from_the_whole_range() -> None:
    codes = {generate_code() for _ in range(2000)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 1900  # not a tiny space
    assert any(c.startswith("0") for c in codes)  # leading zeros kept


def test_only_an_hmac_is_stored_and_the_sms_carries_the_code() -> None:
    request_code(ALICE_PHONE, "register", ip=IP)
    code = last_code(ALICE_PHONE)
    row = SmsCode.objects.get()
    assert code not in row.code_hmac and len(row.code_hmac) == 64
    assert ALICE_PHONE not in row.phone_index
    message = sms()[-1]
    assert message["to"] == ALICE_PHONE and code in message["text"]
    with connection.cursor() as cursor:  # nothing in any column of the table holds the code or the number
        cursor.execute("SELECT * FROM accounts_smscode")
        flat = " ".join(str(v) for v in cursor.fetchone())
    assert code not in flat.replace(row.code_hmac, "") and "13912340001" not in flat


def test_a_code_is_single_use() -> None:
    request_code(ALICE_PHONE, "login", ip=IP)
    code = last_code(ALICE_PHONE)
    assert check_code(ALICE_PHONE, "login", code).ok
    assert not check_code(ALICE_PHONE, "login", code).ok


def test_codes_expire_after_five_minutes() -> None:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        request_code(ALICE_PHONE, "login", ip=IP)
        code = last_code(ALICE_PHONE)
        traveller.shift(301)
        assert check_code(ALICE_PHONE, "login", code).reason == "none"


def test_a_code_is_bound_to_its_number_and_purpose() -> None:
    request_code(ALICE_PHONE, "register", ip=IP)
    code = last_code(ALICE_PHONE)
    assert not check_code(BOB_PHONE, "register", code).ok
    assert not check_code(ALICE_PHONE, "login", code).ok
    assert check_code(ALICE_PHONE, "register", code).ok


def test_a_new_code_kills_the_previous_one() -> None:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        request_code(ALICE_PHONE, "login", ip=IP)
        first = last_code(ALICE_PHONE)
        traveller.shift(61)
        request_code(ALICE_PHONE, "login", ip=IP)
        second = last_code(ALICE_PHONE)
    if first != second:
        assert not check_code(ALICE_PHONE, "login", first).ok
    assert check_code(ALICE_PHONE, "login", second).ok


def test_a_thousand_wrong_guesses_never_pass_and_the_code_dies_after_the_fifth() -> None:
    request_code(ALICE_PHONE, "login", ip=IP)
    code = last_code(ALICE_PHONE)
    wrong = [f"{n:06d}" for n in range(1000, 2100) if f"{n:06d}" != code][:1000]
    results = [check_code(ALICE_PHONE, "login", guess) for guess in wrong]
    assert not any(r.ok for r in results)
    assert [r.reason for r in results[:5]] == ["wrong"] * 5
    assert {r.reason for r in results[5:]} == {"none"}  # dead: not even compared any more
    assert SmsCode.objects.get().attempts == 5
    assert not check_code(ALICE_PHONE, "login", code).ok  # the right code is dead too


def test_malformed_codes_count_as_misses() -> None:
    request_code(ALICE_PHONE, "login", ip=IP)
    code = last_code(ALICE_PHONE)
    for guess in ["", "12345", "1234567", "abcdef", "１２３４５６"]:
        assert not check_code(ALICE_PHONE, "login", guess).ok
    assert not check_code(ALICE_PHONE, "login", code).ok


def _race(code: str, threads: int) -> list[bool]:
    barrier = threading.Barrier(threads)
    results: list[bool] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait()
            ok = check_code(ALICE_PHONE, "login", code).ok
        except Exception:  # a database lock error is a lost race, never a success
            ok = False
        finally:
            connection.close()
        with lock:
            results.append(ok)

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_correct_submissions_yield_exactly_one_success(settings: Any) -> None:
    request_code(ALICE_PHONE, "login", ip=IP)
    code = last_code(ALICE_PHONE)
    results = _race(code, 50)
    assert len(results) == 50
    assert results.count(True) == 1
    assert SmsCode.objects.get().consumed_at is not None
