"""The report's own error, kept apart so the DAG support imports it without the report's libraries."""


class ReportError(RuntimeError):
    """A report cannot be made from what is published (an unknown or withdrawn release, a figure the
    workbook would misstate): a retry reaches the same answer, so the task fails at once."""
