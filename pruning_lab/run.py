"""``python -m pruning_lab.run [-m] [overrides...]``: run jobs, one per combination of the overrides.

Results go to the content-addressed store (``paths.store``) and, as ``result.json``, into each
job's directory; a job whose valid result is already stored is not recomputed. The command
line itself is ``pruning_lab.launch.cli``.
"""

if __name__ == "__main__":
    # first, before the imports below take their second: a stop signal at any moment ends the same way
    from .launch import signals

    signals.install(armed=False)

    from .launch.cli import main

    main()
