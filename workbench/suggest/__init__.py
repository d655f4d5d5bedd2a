"""Suggest: failures turned into targeted training examples, drawn from a pool with a
contamination guard (near-duplicate similarity), mended by the ``Repair`` of the checks that
flagged them."""
