"""How counts are protected before a partner sees them (statistical disclosure control).

``record_keys`` gives every record a key when it is published; ``cells`` is how counts travel
through the query layer (value, key sum, withheld base cells) and are published by the user's
grant; ``ptable`` makes perturbation tables (the noise for each cell value and cell key);
``cellkey`` reads one and turns (cell count, sum of record keys) into the published value, by the
ONS ``cell-key-perturbation`` package's rules.
"""
