import random

import pytest

from civiclake.pii import id_check_char, is_valid_id_number, is_valid_mobile, tokenise
from civiclake.sources.people import make_resident, resident_pool

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


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown token kind"):
        tokenise("x", "email", KEY)
