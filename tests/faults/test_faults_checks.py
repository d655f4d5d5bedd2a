"""Every built-in check on arbitrary unicode: it returns in bounded time, one finding per record,
no error, spans inside the output."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.check.checks import Record
from workbench.check.runner import run_check

BUILTINS = ("hallucination", "length", "misspelling", "repetition")

ODD = {
    "empty": "",
    "rtl": "مرحبا بالعالم، عاصمة نورلاند هي فيل. " * 20 + "שלום עולם 1999",
    "emoji": "👍🏽 fine 🎉 👨‍👩‍👧 " * 100,
    "nul": "a\x00b\x00 c\x00" * 100,
    "controls": "".join(chr(c) for c in range(32)) * 10 + "\u202e\u200b\ufeff",
    "combining": "e\u0301" * 500 + " Z\u0351\u0352\u0353" * 100,
    "one_char_held": "a" * 50_000,
}
# 1 MB of mixed text: long words, numbers, names, marks, a bidi override and NUL
MEGABYTE = ("The capital of Norland is Vell, founded 1999. x\u202e😀 \x00 naïve " * 20_000)[:1_000_000]


@pytest.fixture(scope="module")
def checks():
    from workbench.plugins import get_plugins

    plugins = get_plugins()
    assert set(BUILTINS) <= set(plugins.checks.classes)
    return plugins.make_checks({n: {} for n in BUILTINS})


def _record(output: str, **kw) -> Record:
    base = dict(id="r", prompt="Where is Vell? Answer in 3 words.", output=output,
                reference="Vell is in Norland.", context="Vell is the capital of Norland (1999).",
                finish_reason="length", max_new_tokens=64)
    return Record(**{**base, **kw})


def _assert_sane(found, records):
    assert [f.record_id for f in found] == [r.id for r in records]
    for f, r in zip(found, records, strict=True):
        assert f.error is None, f"{f.check}: {f.error}"
        assert 0.0 <= f.score <= 1.0
        assert all(0 <= a < b <= len(r.output) for a, b in f.spans), (f.check, f.spans)
        json.dumps(f.to_dict(), ensure_ascii=False)


@pytest.mark.parametrize("case", sorted(ODD))
def test_odd_unicode_outputs(checks, case):
    recs = [_record(ODD[case]), _record(ODD[case], id="r2", prompt=ODD[case],
                                        reference=ODD[case] or None, context=None)]
    for check in checks:
        t0 = time.monotonic()
        found = run_check(check, recs, timeout_s=None)
        assert time.monotonic() - t0 < 10, check.name
        _assert_sane(found, recs)


@pytest.mark.slow
def test_a_megabyte_output_is_checked_in_bounded_time(checks):
    rec = [_record(MEGABYTE)]
    seconds = {}
    for check in checks:
        t0 = time.monotonic()
        found = run_check(check, rec, timeout_s=None)
        seconds[check.name] = time.monotonic() - t0
        _assert_sane(found, rec)
    # measured about 0.3-1.6 s each on a loaded 2-core machine; 20 s means something went
    # quadratic
    assert max(seconds.values()) < 20, seconds


text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=400)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(output=text, prompt=text, reference=st.none() | text, context=st.none() | text,
       finish=st.sampled_from([None, "eos", "stop", "length"]),
       max_new=st.none() | st.integers(0, 10_000))
def test_fuzzed_records(checks, output, prompt, reference, context, finish, max_new):
    recs = [_record(output, prompt=prompt, reference=reference, context=context,
                    finish_reason=finish, max_new_tokens=max_new)]
    for check in checks:
        _assert_sane(run_check(check, recs, timeout_s=None), recs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(word=st.text(min_size=1, max_size=12), n=st.integers(1, 400), sep=st.sampled_from(
    [" ", "", "\n", ", ", "\x00", "\u200b"]))
def test_fuzzed_repetitive_outputs(checks, word, n, sep):
    recs = [_record(sep.join([word] * n))]
    for check in checks:
        _assert_sane(run_check(check, recs, timeout_s=None), recs)
