"""Results -> tables, figures and a report.

Layers point one way: ``load`` (result files -> tidy frame) <- ``arms`` <- ``stats``,
``tables``, ``response``, ``dose`` <- ``figures``, ``published`` <- ``report`` <- ``aggregate``
(the command line).
"""
