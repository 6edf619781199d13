"""The preview canvas where the transparency ellipse is drawn and dragged: a ``gr.HTML`` component (Gradio's way to a
small custom input) whose value the page keeps equal to the ellipse sliders, both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from ..rgba import Ellipse
from ..sampling import DEFAULT_ELLIPSE

START = DEFAULT_ELLIPSE  # what generate uses without --ellipse
END = Ellipse(0.75, 0.5, 0.4, 0.5)  # where a new motion goes first: to the right

TEMPLATE = """
<div class="ellipse-editor">
  <canvas width="320" height="320"
          title="drag inside an ellipse to move it, elsewhere to draw it; the wheel turns it"></canvas>
  <div class="ellipse-editor-buttons">
    <button type="button" data-edit="start">edit start</button>
    <button type="button" data-edit="end">edit end</button>
  </div>
</div>
"""

CSS = """
.ellipse-editor { display: flex; flex-direction: column; align-items: center; gap: 6px; }
.ellipse-editor canvas { cursor: crosshair; touch-action: none; max-width: 100%; border-radius: 4px; }
.ellipse-editor-buttons button { padding: 2px 10px; margin: 0 4px; border-radius: 4px;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary); }
.ellipse-editor-buttons button.selected { background: var(--color-accent); color: white; }
"""


def canvas_value(start: Ellipse, end: Ellipse, moving: bool, width: int, height: int, edit: str = "start") -> dict:
    """The canvas' value for these ellipses and a ``width x height`` frame."""
    return {"start": list(start.as_tuple()), "end": list(end.as_tuple()), "moving": moving, "edit": edit,
            "aspect": width / height}


def ellipse_canvas(value: dict[str, Any], **kwargs: Any) -> gr.HTML:
    """Draw/drag the start (blue) and end (orange, dashed, when moving) ellipse; emits ``edit`` on each change.
    A configured ``gr.HTML``, not a subclass: Gradio writes a ``.pyi`` stub beside the source of every subclass."""
    return gr.HTML(value=value, html_template=TEMPLATE, css_template=CSS,
                   js_on_load=(Path(__file__).parent / "ellipse_canvas.js").read_text(), **kwargs)


# The sliders <-> canvas synchronisation runs in the browser (no server round trip while dragging). Inputs: start
# cx, cy, w, h, angle, end cx, cy, w, h, angle, the "moving" checkbox, width, height, then the canvas itself.
SLIDERS_TO_CANVAS_JS = """
(...v) => ({start: v.slice(0, 5), end: v.slice(5, 10), moving: v[10], aspect: v[11] / v[12],
            edit: v[10] ? v[13].edit : "start"})
"""
CANVAS_TO_SLIDERS_JS = "(v) => [...v.start, ...v.end, v.moving]"
