"""A suite template's work is bounded at each operation: every loop iteration counts against the
render's step budget (whatever it iterates), and every filter, operator and method that can
build a long value is measured before it builds it."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from workbench.run.template_limits import TemplateLimit, render_bounded, sandbox


def _render(template: str, **variables) -> str:
    return render_bounded(sandbox().from_string(template), **variables)


def _refused(template: str, **variables) -> str:
    """The one-line reason a render is refused; it must come fast and without building the
    value (peak Python memory of the render well under the value it would have built)."""
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(TemplateLimit) as err:
            _render(template, **variables)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - t0 < 20
    assert peak < 200 * 2**20, f"{template!r} used {peak / 2**20:.0f} MB before it was refused"
    return _one_line(err)


def _one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


# -- loops ---------------------------------------------------------------------------------------
@pytest.fixture
def ten_thousand_steps(monkeypatch):
    """A budget of 10,000 steps (not 1,000,000): the same rule, seconds faster on a busy
    machine."""
    import workbench.run.template_limits as limits

    monkeypatch.setattr(limits, "MAX_TEMPLATE_STEPS", 10_000)


@pytest.mark.parametrize("template", [
    '{% for c in "x" * 20000 %}{% endfor %}',  # a long string, nothing called in the body
    '{% for c in ["a"] * 150 %}{% for d in ["b"] * 150 %}{% endfor %}{% endfor %}',
    '{% for c in prompt %}{% for d in prompt %}{{ "" }}{% endfor %}{% endfor %}',
    '{% for k in big %}{% endfor %}{% for k in big %}{% endfor %}',  # loops add up
    '{% for x in [[1, 2]] * 6000 recursive %}{% if x is iterable %}{{ loop(x) }}'
    '{% endif %}{% endfor %}',  # a recursive loop's levels count too
])
def test_every_loop_iteration_counts_against_the_step_budget(template, ten_thousand_steps):
    with pytest.raises(TemplateLimit) as err:
        _render(template, prompt="p" * 110, big={str(i): i for i in range(6000)})
    assert _one_line(err) == "the template loops more than 10,000 times"


def test_loops_under_the_budget_still_render(ten_thousand_steps):
    out = _render("{% for c in prompt %}{% for d in 'ab' %}{{ loop.index }}{% endfor %}"
                  "{% endfor %}|{% for k, v in d|dictsort %}{{ k }}{{ v }}{% endfor %}"
                  "|{% for c in 'xyz' %}{{ loop.revindex }}{% else %}-{% endfor %}"
                  "{% for c in '' %}{% else %}-{% endfor %}", prompt="p" * 3000,
                  d={"b": 2, "a": 1})
    assert out == "12" * 3000 + "|a1b2|321-"


# -- filters, operators and methods --------------------------------------------------------------
@pytest.mark.parametrize(("template", "what"), [
    ('{{ "x"|center(10**9) }}', "passes a number over 67,108,864 to |center"),
    ('{{ "x"|center(60000000) ~ "x"|center(60000000) }}', "~ builds a value over"),
    ('{{ ("a\n" * 100)|indent(1000000) }}', "|indent builds a value over"),
    ('{{ ("ab " * 100000)|wordwrap(1, wrapstring="-" * 5000) }}', "|wordwrap builds a value"),
    ('{{ "%60000000s%60000000s"|format(1, 2) }}', "|format builds a value over"),
    ('{{ "%60000000s%60000000s" % (1, 2) }}', "% builds a value over"),
    ('{{ "{:60000000}{:60000000}".format(1, 2) }}', "str.format builds a value over"),
    ('{% set a = "x" * 60000000 %}{{ [a, a]|join }}', "|join builds a value over"),
    ('{% set a = "x" * 60000000 %}{{ a + a }}', "+ builds a value over"),
    ('{{ ["x" * 60000000] * 2 }}', "* builds a value over"),
    ('{{ ("x" * 1000).replace("x", "y" * 100000) }}', "replace() builds a value over"),
    ('{{ ("\t" * 1000).expandtabs(60000000) }}', "expandtabs() builds a value over"),
    ('{% set a = "x" * 40000000 %}{{ [a, a] }}', "printing a value builds a value over"),
    ('{% set a = "x" * 40000000 %}{% set b %}{{ a }}{{ a }}{% endset %}',
     "the template builds a value over"),
    ('{% set a = "x" * 40000000 %}{{ [a, a]|tojson }}', "|tojson builds a value over"),
    ('{{ [1]|batch(10000000, "x")|list }}', "|batch makes more than 1,000,000 parts"),
    ('{{ ("x" * 20000000)|list|length }}', "loops more than 1,000,000 times"),
    ('{{ range(50000000)|length }}', "a range of more than 1,000,000 numbers"),
    ('{{ ["a", "b", "c"]|map("center", 60000000)|join }}', "the template builds a value over"),
    ("{{ lipsum(60000000) }}", "lipsum() builds a value over"),
    ("{{ ([[1]] * 20000)|sum(start=[])|length }}", "|sum would copy more than"),
])
def test_a_filter_or_operator_is_refused_before_it_builds_a_huge_value(template, what):
    assert what in _refused(template)


def test_filters_and_operators_under_the_bounds_still_work():
    big = "word " * 200_000  # a 1 MB prompt
    out = _render('{{ "x"|center(5) }}|{{ "a\nb"|indent(2) }}|{{ "aa bb"|wordwrap(2) }}|'
                  '{{ "%s-%03d"|format("a", 7) }}|{{ "%s!" % p }}|{{ "{}+{}".format(1, 2) }}|'
                  '{{ [1, 2]|join(",") }}|{{ "a-b".replace("-", "+") }}|{{ [1] * 2 + [3] }}|'
                  "{{ p ~ 1 }}|{{ 'x'.rjust(3) }}|{{ range(5)|list }}|{{ {'a': [1]}|tojson }}|"
                  "{{ big|replace('word', 'w')|length }}|{{ big|wordwrap(80)|length }}|"
                  "{{ (big ~ big)|length }}",
                  p="P", big=big)
    assert out == ('  x  |a\n  b|aa\nbb|a-007|P!|1+2|1,2|a+b|[1, 1, 3]|P1|  x|[0, 1, 2, 3, 4]|'
                   '{"a": [1]}|400000|999999|2000000')


def test_a_template_cannot_change_a_list_in_place():
    # growing a list in a loop (xs.extend(xs) doubles it) is off: templates read, never mutate
    from jinja2.exceptions import SecurityError

    with pytest.raises(SecurityError, match="'extend' of 'list' object is unsafe"):
        _render("{% set xs = [1] %}{{ xs.extend(xs) }}")
