"""The nightly report (Markdown and PNG) and the command-line summary of a night.

Public surface: what the report asset and `python -m jobrec.report.summary` use.
"""

from jobrec.report.nightly import SECTIONS, write_report

__all__ = ["SECTIONS", "write_report"]
