"""The sensitivity analysis: its sweeper (SALib) and its table and figure."""
