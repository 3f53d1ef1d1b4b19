"""The simulation: the pruning-plasticity model, its pathology and its treatments, one job at a time.

It takes a validated ``config.Job`` and returns plain data (``protocol.run``); it imports no
Hydra, touches no files and uses no pandas, so a notebook, a test or any launcher can call it.
"""
