"""The ``benchmark-logs`` directive: every log in ``benchmarks/results/``, verbatim, one section
each in the order of their names (script, then date), so that a log added there is on the site
without an edit."""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


class BenchmarkLogs(SphinxDirective):
    """One section per log file: its name as title, its text as a literal block."""

    def run(self) -> list[nodes.Node]:
        logs = sorted(RESULTS.glob("*.log"))
        if not logs:
            raise self.error(f"no benchmark logs in {RESULTS}")
        sections = []
        for log in logs:
            self.env.note_dependency(str(log))  # rebuilt when a log changes
            # a label per log, so that pages link to it: [text](#log-NAME) in MyST
            label = f"log-{log.stem}".lower()
            node_id = nodes.make_id(label)
            section = nodes.section(ids=[node_id], names=[label])
            section += nodes.title(text=log.name)
            std = self.env.get_domain("std")
            std.anonlabels[label] = (self.env.docname, node_id)
            std.labels[label] = (self.env.docname, node_id, log.name)
            text = log.read_text(encoding="utf-8")
            block = nodes.literal_block(text, text)
            block["language"] = "text"
            section += block
            sections.append(section)
        return sections


def setup(app):
    app.add_directive("benchmark-logs", BenchmarkLogs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
