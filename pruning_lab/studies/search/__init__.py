"""The regimen search: its sweeper (Optuna) and its tables and figure."""
