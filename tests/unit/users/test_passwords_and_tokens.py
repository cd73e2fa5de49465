"""Argon2id hashes, the password policy, and API tokens that exist in clear only once."""

import re

import pytest

from app.auth.passwords import (
    WeakPasswordError,
    check_policy,
    generate_password,
    hash_password,
    verify_password,
)
from app.auth.tokens import hash_token, issue_token, looks_like_token, redact_tokens


def test_a_password_is_stored_as_an_argon2id_hash_that_verifies_only_itself():
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse battery" not in stored
    assert verify_password("correct horse battery", stored) == (True, None)
    assert verify_password("correct horse batterx", stored)[0] is False


def test_an_unknown_user_still_costs_one_verification_and_fails():
    assert verify_password("anything at all", None) == (False, None)


def test_an_oversized_password_is_rejected_without_hashing():
    assert verify_password("x" * 10_000, hash_password("correct horse battery")) == (False, None)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Sh0rt!", "too short: at least 12"),
        ("a" * 300, "too long: at most 256"),
        ("aaaaaaaaaaaaaaa", "too simple"),
        ("my-alice-password", "must not contain the user name"),
    ],
)
def test_the_policy_names_the_rule_a_password_breaks_without_echoing_it(password, message):
    with pytest.raises(WeakPasswordError, match=message) as caught:
        check_policy(password, username="alice")
    assert password not in str(caught.value)


def test_generated_passwords_are_random_and_pass_the_policy():
    first, second = generate_password(), generate_password()
    assert first != second
    check_policy(first, username="alice")


def test_an_issued_token_is_random_shaped_and_kept_only_as_a_digest():
    token = issue_token()
    assert looks_like_token(token.plaintext)
    assert token.digest == hash_token(token.plaintext)
    assert re.fullmatch(r"[0-9a-f]{64}", token.digest)
    assert token.plaintext.startswith(token.display_prefix) and len(token.display_prefix) == 7
    assert token.plaintext not in repr(token)
    assert issue_token().plaintext != token.plaintext


def test_token_shaped_strings_are_redacted_inside_text_keeping_the_prefix():
    token = issue_token().plaintext
    assert (
        redact_tokens(f"Authorization: Bearer {token}.") == f"Authorization: Bearer {token[:7]}…[redacted]."
    )
    assert redact_tokens(f"{token}x") == f"{token}x"  # longer than a token: not one
    assert redact_tokens("sp_short") == "sp_short"


def test_hashes_use_the_owasp_argon2id_parameters_and_old_ones_are_upgraded_at_login():
    from pwdlib.hashers.argon2 import Argon2Hasher

    assert "$argon2id$v=19$m=19456,t=2,p=1$" in hash_password("correct horse battery")
    legacy = Argon2Hasher(time_cost=3, memory_cost=65536, parallelism=4).hash("correct horse battery")
    ok, upgraded = verify_password("correct horse battery", legacy)
    assert ok and upgraded is not None and "m=19456,t=2,p=1" in upgraded
