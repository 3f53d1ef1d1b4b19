"""The sweep: the command line, planning, launchers, workers, progress and job status.

A multirun goes ``cli.main`` -> Hydra -> the sweeper ``hydra/sweeper`` names (``grid.GridSweeper``:
expand the overrides, ``plan`` every job, launch the plan; a study's sweeper in ``studies``) ->
the launcher's ``launch_plan`` (``local``: joblib's loky workers; ``cluster``: submitit) ->
``job.execute`` in a worker -> ``Store.result_of`` -> ``sim.protocol.run``. Hydra finds the
sweepers and the launchers as plugins under ``hydra_plugins/pruning_lab_launcher``, which only
names these classes.
"""
