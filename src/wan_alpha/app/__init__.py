"""``wan-alpha app``: the browser page (Gradio) around the generation pipeline.

:mod:`.generation` turns the page's values into clips and files (no Gradio), :mod:`.canvas` is the ellipse editor,
:mod:`.page` builds the page and serves it. Imported only by the ``app`` command, so other commands never load Gradio.
"""

import os

# Gradio reports usage to its servers unless told not to; this tool sends nothing anywhere unasked.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
