"""Markdown reports: the reports/README.md dashboard, a page per experiment, SVG figures.

render.py is the entry point (ExperimentView, ReportContext, render_reports,
write_reports, report_digest); drift.py decides alerts, figures.py draws, markdown.py
holds the escaping and formatting filters, templates/ the Jinja2 page templates.
Nothing is imported here so the planner can read digests without jinja2 or matplotlib.
"""
