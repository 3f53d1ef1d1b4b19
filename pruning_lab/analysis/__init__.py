"""Results -> tables, figures and a report.

Layers point one way: ``load`` (result files -> tidy frame) <- ``arms`` <- ``stats``,
``tables``, ``figures``, ``published`` <- ``report`` <- ``aggregate`` (the command line).
"""
