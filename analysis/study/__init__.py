"""One machine's measurements: a study folder, its fingerprint, and the run that measures it.

- ``analysis.study.folder``: the folder, its provenance (``study.json``) and
  its parts, read and written atomically; a study of another machine is
  never added to.
- ``analysis.study.parts``: the measurements a study holds.
- ``analysis.study.run``: ``python -m analysis study``, within a time budget.
"""
