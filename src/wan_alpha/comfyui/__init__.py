"""ComfyUI custom nodes for Wan-Alpha (install: docs/comfyui.md). ComfyUI reads the two mappings below.

The import is absolute so that this folder also works symlinked into ``ComfyUI/custom_nodes``, where ComfyUI
imports it under the link's name instead of as ``wan_alpha.comfyui``.
"""

from wan_alpha.comfyui.nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
