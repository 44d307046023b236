"""tfkit.addresses: the one address-pattern matcher of waivers, TFK001's allow and assert_no_deletes."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tfkit.addresses import matches, matches_any

#: Characters addresses are made of, the pattern wildcards and regular-expression metacharacters.
_CHARS = st.sampled_from(list('ab0.[]"_-*?\\()+$^{}|/ '))
texts = st.text(_CHARS, max_size=12)


@given(texts)
def test_every_text_matches_itself(text: str) -> None:
    assert matches(text, text)


@given(texts)
def test_a_star_matches_everything(text: str) -> None:
    assert matches("*", text)


@given(st.text(st.sampled_from(list('ab0.[]"_-\\()+$')), max_size=12), texts)
def test_a_literal_prefix_and_a_star_match_everything_it_starts(prefix: str, rest: str) -> None:
    assert matches(prefix + "*", prefix + rest)
    assert not matches(prefix + "*", rest) or rest.startswith(prefix)


@given(st.text(st.sampled_from(list('ab0._"-*?')), max_size=10), texts)
def test_without_brackets_it_agrees_with_fnmatch(pattern: str, address: str) -> None:
    """What TFK001's allow and assert_no_deletes meant before (fnmatch) is kept for bracket-free patterns."""
    assert matches(pattern, address) == fnmatch.fnmatchcase(address, pattern)


@pytest.mark.parametrize(
    ("pattern", "address", "expected"),
    [
        ("module.x.aws_db[0]", "module.x.aws_db[0]", True),
        ("module.x.aws_db[0]", "module.x.aws_db0", False),  # not a character class
        ("module.x.aws_db[0]", "module.x.aws_db[1]", False),
        ('module.m["k"].aws_x.y', 'module.m["k"].aws_x.y', True),
        ('module.m["k"].aws_x.y', 'module.m["j"].aws_x.y', False),
        ('aws_x.y["a.b"]', 'aws_x.y["a.b"]', True),
        ("aws_db.x[*]", "aws_db.x[3]", True),
        ("aws_db.x[*]", "aws_db.x", False),
        ('module.access.terraform_data.rule["dns-*"]', 'module.access.terraform_data.rule["dns-a"]', True),
        ('module.access.terraform_data.rule["dns-*"]', 'module.access.terraform_data.rule["web"]', False),
        ("module.db.*", "module.db.module.inner.aws_x.y", True),  # * crosses dots
        ("module.db.*", "module.dbx.aws_x.y", False),
        ("aws_s3_bucket.logs", "aws_s3_bucket.logs_archive", False),  # the whole address
        ("aws_s3_bucket.log?", "aws_s3_bucket.logs", True),
        ("aws_s3_bucket.log?", "aws_s3_bucket.log", False),
        ("AWS_S3_BUCKET.logs", "aws_s3_bucket.logs", False),  # case-sensitive
        ("*", "", True),
    ],
)
def test_patterns(pattern: str, address: str, expected: bool) -> None:
    assert matches(pattern, address) is expected


def test_matches_any() -> None:
    assert matches_any(["a.b", "c.d[0]"], "c.d[0]")
    assert not matches_any(["a.b", "c.d[0]"], "c.d[1]")
    assert not matches_any([], "a.b")
