import random

import pytest

from civiclake.pii import (
    id_check_char,
    is_token,
    is_valid_id_number,
    is_valid_mobile,
    personal_numbers_in,
    scrub_text,
    tokenise,
)
from simulators.people import make_resident, resident_pool

KEY = b"unit-test-key"


def test_check_character_of_the_standard_example():
    # GB 11643-1999 worked example: 11010519491231002X.
    assert id_check_char("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number("11010519491231002x")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("1101051949123100")
    assert not is_valid_id_number(None)


def test_simulated_residents_have_valid_ids_and_mobiles():
    rng = random.Random(1)
    for _ in range(500):
        resident = make_resident(rng)
        assert is_valid_id_number(resident.id_number)
        assert is_valid_mobile(resident.mobile)
    assert resident_pool(7, 20) == resident_pool(7, 20)


def test_tokens_are_deterministic_keyed_and_domain_separated():
    token = tokenise("13800138000", "phone", KEY)
    assert token == tokenise(" 138 0013 8000 ", "phone", KEY)
    assert token.startswith("phone_") and len(token) == len("phone_") + 32
    assert token != tokenise("13800138000", "phone", b"other-key")
    assert tokenise("13800138000", "name", KEY) != token
    assert "13800138000" not in token
    assert tokenise(None, "phone", KEY) is None
    assert tokenise("  ", "name", KEY) is None


@pytest.mark.parametrize(
    "raw,kind", [("13800138000", "phone"), ("张伟", "name"), ("11010519491231002X", "id_number")]
)
def test_a_token_is_not_tokenised_again(raw, kind):
    # A source that tokenises at its edge (the intake API) stores tokens; the ingest tokenises
    # every source's personal columns, and must leave those tokens as they are.
    token = tokenise(raw, kind, KEY)
    assert is_token(token, kind)
    assert tokenise(token, kind, KEY) == token
    assert tokenise(token, kind, b"other-key") == token
    assert scrub_text(f"请回电[{token}]", KEY) == f"请回电[{token}]"


def test_only_the_kinds_own_token_form_is_kept():
    phone_token = tokenise("13800138000", "phone", KEY)
    # Another kind's token, a token written in capitals, a short one: values, tokenised.
    assert tokenise(phone_token, "name", KEY) not in (phone_token, None)
    assert is_token(tokenise(phone_token, "name", KEY), "name")
    for almost in (phone_token.upper(), phone_token[:-1], f"{phone_token}0", f" {phone_token}"):
        assert tokenise(almost, "phone", KEY) != almost
    assert not is_token(None, "phone")


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown token kind"):
        tokenise("x", "email", KEY)


# --- personal numbers inside free text ------------------------------------------------
@pytest.mark.parametrize(
    "written,number,kind",
    [
        ("请回电13800138000谢谢", "13800138000", "phone"),
        ("电话：138-0013-8000。", "13800138000", "phone"),
        ("+86 138 0013 8000 找我", "13800138000", "phone"),
        ("座机0755-23456789，白天在", "075523456789", "phone"),
        ("身份证44030019900101123X在此", "44030019900101123X", "id_number"),
        ("证号 440300199001011234 (写错了也算)", "440300199001011234", "id_number"),
    ],
)
def test_numbers_in_text_become_the_tokens_their_columns_get(written, number, kind):
    scrubbed = scrub_text(written, KEY)
    token = tokenise(number, kind, KEY)
    assert f"[{token}]" in scrubbed
    assert not any(ch.isdigit() for ch in scrubbed.replace(token, "")), scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "坐标114.138001380001,22.65",  # a decimal's fraction is no phone number
        "工单GC20261125000001已转派",  # case ids
        "13800138000123",  # a longer run of digits
        "住址12号楼1301室，2026-11-25 08:00 上报",
        "金额 01234567 元",
        "",
    ],
)
def test_text_without_personal_numbers_is_kept_as_it_is(text):
    assert scrub_text(text, KEY) == text


def test_scrub_keeps_none_and_uses_the_key():
    assert scrub_text(None, KEY) is None
    assert scrub_text("13800138000", KEY) != scrub_text("13800138000", b"other-key")


def test_personal_numbers_written_in_text_are_found_as_scrub_text_finds_them():
    text = "请回电13800138000或0755-23456789，身份证440309199001011234。坐标114.0312345678 编号GC202611250001"
    assert personal_numbers_in(text) == ["440309199001011234", "13800138000", "0755-23456789"]
    key = b"k" * 32
    assert personal_numbers_in(scrub_text(text, key)) == []
    assert personal_numbers_in(None) == [] and personal_numbers_in("") == []
