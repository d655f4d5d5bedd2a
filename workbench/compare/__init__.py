"""Compare: two runs item by item (fixed / regressed / persisting), the statistics behind it
(Wilson intervals, exact McNemar, bootstrap) and the confounders that temper a verdict."""
