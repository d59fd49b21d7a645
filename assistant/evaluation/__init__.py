"""``midi-assistant eval``: how well the models predict the evaluation sets
(``melody``, ``harmony``), with the per-note information content in ``scoring``.
Not imported at run time."""
