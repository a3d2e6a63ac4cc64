"""``phone_in(text)``: the JMESPath function channel rules use to read a phone number a customer typed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.deliveries import search


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("空调漏水, 电话 138 0013 8000 谢谢", "+8613800138000"),
        ("call +86 138-0013-8000", "+8613800138000"),
        ("8613800138000", "+8613800138000"),
        ("+49 151 0000 0001 please", "+4915100000001"),
        ("no phone 12345", None),
        ("订单号 20261207123456789", None),  # an order number holds 11 digits, but is not a phone
        ("", None),
        (None, None),
    ],
)
def test_the_first_phone_number_written_in_a_message(text: str | None, phone: str | None) -> None:
    assert search("phone_in(Content)", {"Content": text}) == phone


def test_phone_in_of_a_number_is_a_type_error_not_a_guess() -> None:
    from jmespath.exceptions import JMESPathTypeError

    with pytest.raises(JMESPathTypeError):
        search("phone_in(Content)", {"Content": 13800138000})


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True), st.text(alphabet="空调坏了请上门 ,。", max_size=12))
def test_a_mobile_number_anywhere_in_chinese_text_is_found(number: str, around: str) -> None:
    assert search("phone_in(Content)", {"Content": f"{around}{number}{around}"}) == f"+86{number}"
