"""Results -> tables, figures and a report.

Layers point one way: ``measures`` (the arms and measures: names, labels, order, styles, units)
<- ``legacy`` (results of schema 1) <- ``load`` (result files -> tidy frame) <- ``arms`` <-
``stats`` (every statistic), ``tables``, ``response``, ``dose`` <- ``study`` <- ``figures``,
``published`` <- ``document`` (the report object, its pages from ``templates/``) <- ``sections``
(the report of a sweep, ``pruning_lab.report``) <- ``aggregate`` (the command line).
"""
