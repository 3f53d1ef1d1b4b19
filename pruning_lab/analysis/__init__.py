"""Results -> tables, figures and a report.

Layers point one way: ``load`` (result files -> tidy frame) <- ``arms`` <- ``stats``,
``tables``, ``response``, ``dose`` <- ``study`` <- ``figures``, ``published`` <- ``document``
<- ``report`` <- ``aggregate`` (the command line).
"""
