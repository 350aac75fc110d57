"""The report: every notebook executed, exported and indexed, and the committed notebooks kept clean.

- ``analysis.report.build``: ``python -m analysis report`` (notebooks,
  HTML, figures, tables, index.html, the README's gallery).
- ``analysis.report.notebooks``: cleaning committed notebooks
  (``python -m analysis.report.notebooks [--check]``).
"""
