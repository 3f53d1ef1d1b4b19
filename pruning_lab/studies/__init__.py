"""The studies that choose their own jobs: a regimen search (Optuna) and a sensitivity analysis
(SALib), each a sweeper (``hydra/sweeper=search``, ``hydra/sweeper=sensitivity``) beside the
tables and figures of what it found.

Each study's sweeper (``search.sweeper``, ``sensitivity.sweeper``, with ``base``, ``space`` and
``metrics``) belongs to the sweep's layer and runs its jobs on the launch path; its tables
(``search.tables``, ``sensitivity.tables``) belong to the analysis and read only what the study
wrote (``search.json``, ``sensitivity.json``).
"""
