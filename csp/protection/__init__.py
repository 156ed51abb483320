"""Statistical disclosure control by cell-key perturbation.

``ptable`` makes perturbation tables (the noise for each cell value and cell key); ``cellkey``
reads one and turns (cell count, sum of record keys) into the published value, by the ONS
``cell-key-perturbation`` package's rules.
"""
