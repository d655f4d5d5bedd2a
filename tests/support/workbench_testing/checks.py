"""Check plugins that tests write into a --plugins-dir."""

# flags every output that does not start with its item's reference (the loop tests)
CHECK_PLUGIN = '''
from workbench import Check, hookimpl


class NotTheReference(Check):
    """Flags an output that does not start with the item's reference answer."""

    name = "not_reference"
    category = "wrong_answer"

    def run(self, records):
        for r in records:
            bad = bool(r.reference) and not r.output.strip().startswith(r.reference)
            yield self.finding(r, flagged=bad, score=float(bad), message="not the reference")


@hookimpl
def register_checks(register):
    register(NotTheReference)
'''
