"""The page of ``wan-alpha app``: inputs, the ellipse canvas, the result over a checkerboard and over a colour with
its alpha matte, and one download button per format; and :func:`serve`, which loads the model once and starts it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import gradio as gr

from ..errors import WanAlphaError
from ..io import FORMATS
from ..pipelines import WanAlphaFiles
from ..pipelines.conditioning import DEFAULT_STRENGTH
from ..pipelines.memory import MemorySettings
from ..rgba import Ellipse
from .canvas import CANVAS_TO_SLIDERS_JS, END, SLIDERS_TO_CANVAS_JS, START, canvas_value, ellipse_canvas
from .generation import DOWNLOAD_FORMATS, PLACEMENTS, STARTS, AppModel, Clip

DEFAULT_BACKGROUND = "#2e8b57"
RESULT_MAX_HEIGHT = 480  # pixels; the results fill the width of their column
CSS = f"""
:root {{ --wan-alpha-background: {DEFAULT_BACKGROUND}; }}
#result-checker img {{ background: repeating-conic-gradient(#bbbbbb 0% 25%, #eeeeee 0% 50%) 0 0 / 16px 16px; }}
#result-colour img {{ background: var(--wan-alpha-background); }}
#result-checker .image-frame, #result-colour .image-frame, #result-matte .image-frame {{ width: 100%; }}
#result-checker img, #result-colour img, #result-matte img {{  /* scaled to the column's width, pixels kept sharp */
  width: 100%; height: auto; max-height: {RESULT_MAX_HEIGHT}px; object-fit: contain; image-rendering: pixelated; }}
"""
SET_BACKGROUND_JS = "(c) => { document.documentElement.style.setProperty('--wan-alpha-background', c); }"


def _clip_label(index: int, clip: Clip) -> str:
    return f"{index + 1}: {clip.prompt} (seed {clip.seed})"


def build_app(model: AppModel, workdir: str | os.PathLike) -> gr.Blocks:
    """The page for ``model``; generated files go to fresh folders under ``workdir``."""
    pipe = model.pipe
    config = pipe.config
    multiple = model.size_multiple
    with gr.Blocks(title="wan-alpha", delete_cache=(3600, 3600)) as page:  # cached results: an hour
        gr.Markdown(f"## wan-alpha: transparent video from text\nModel **{model.name}** on **{model.device}**. "
                    "Place the object with the ellipse (drag or draw it on the canvas, or use the sliders), "
                    "make it move with an end ellipse, or upload an alpha video or a mask file. Start from text, "
                    "animate an RGBA image, restyle an RGBA clip or extend one (docs/image_to_video.md).")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                prompts = gr.Textbox(label="Prompt (one per line for several clips)", lines=3, elem_id="prompt",
                                     placeholder="a red balloon drifting, transparent background")
                negative = gr.Textbox(label="Negative prompt (used when guidance > 1; empty: the model's)", lines=1)
                start_choice = gr.Radio(list(STARTS), value="text", label="Start from", elem_id="start",
                                 info="an image or a clip sets the size (a restyled clip its frame count too)")
                with gr.Group(visible=False) as image_inputs:
                    image = gr.File(label="Image: RGBA PNG, WebP or GIF (frame 0 of the clip)", elem_id="image")
                    image_alpha = gr.File(label="Matte giving an RGB image its alpha (optional)", elem_id="image-alpha")
                    opaque_image = gr.Checkbox(label="The image has no alpha: animate it fully opaque",
                                               elem_id="opaque-image")
                    last_image = gr.File(label="Last image (optional, RGBA)", elem_id="last-image")
                    loop = gr.Checkbox(label="Loop: end on the first image", elem_id="loop")
                with gr.Group(visible=False) as clip_inputs:
                    clip = gr.File(label="RGBA clip (restyle: 1 + 4k frames; extend: Frames counts its last 5, "
                                   "re-created, and the new ones)", elem_id="clip")
                    strength = gr.Slider(0.05, 1, value=DEFAULT_STRENGTH, step=0.05, elem_id="strength",
                                         label="Strength: how much of the clip is re-noised (1: all)")
                with gr.Row():
                    seed = gr.Number(label="Seed", value=0, precision=0, elem_id="seed")
                    steps = gr.Slider(1, 100, value=config.num_inference_steps, step=1, label="Steps", elem_id="steps")
                    guidance = gr.Slider(1, 15, value=config.guidance_scale, step=0.5, label="Guidance (1: off)")
                with gr.Row():
                    frames = gr.Slider(1, max(121, config.default_num_frames), value=config.default_num_frames, step=4,
                                       label="Frames (1 + 4k)", elem_id="frames")
                    fps = gr.Number(label="FPS", value=config.fps, minimum=1)
                width = gr.Slider(multiple, max(1280, config.default_width), value=config.default_width,
                                  step=multiple, label=f"Width (multiple of {multiple})", elem_id="width")
                height = gr.Slider(multiple, max(1280, config.default_height), value=config.default_height,
                                   step=multiple, label=f"Height (multiple of {multiple})", elem_id="height")
                formats = gr.CheckboxGroup(
                    list(DOWNLOAD_FORMATS), value=["webm", "webp"], label="Output formats", elem_id="formats",
                    info="; ".join(f"{name}: {FORMATS[name].description}" for name in DOWNLOAD_FORMATS))
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=1, min_width=340):
                placement = gr.Radio(list(PLACEMENTS), value="ellipse", label="Placement", elem_id="placement")
                canvas = ellipse_canvas(canvas_value(START, END, False, config.default_width, config.default_height),
                                       elem_id="ellipse-canvas")
                moving = gr.Checkbox(label="Move to an end ellipse", value=False, elem_id="moving")
                with gr.Accordion("Start ellipse", open=True):
                    start_sliders = _ellipse_sliders(START, "start")
                with gr.Accordion("End ellipse", open=False) as end_accordion:
                    end_sliders = _ellipse_sliders(END, "end")
                upload = gr.File(label="Alpha video (ellipses are fitted to its alpha) or mask file (.npy, .pt, "
                                 "grayscale video)", elem_id="upload")
            with gr.Column(scale=2, min_width=400):
                with gr.Row():
                    over_checker = gr.Image(label="Over a checkerboard", type="filepath", interactive=False,
                                            elem_id="result-checker")
                    over_colour = gr.Image(label="Over the colour", type="filepath", interactive=False,
                                           elem_id="result-colour")
                    matte = gr.Image(label="Alpha matte", type="filepath", interactive=False,
                                     elem_id="result-matte")
                background = gr.ColorPicker(value=DEFAULT_BACKGROUND, label="Background colour", elem_id="background")
                shown = gr.Dropdown(label="Clip", choices=[], visible=False, elem_id="shown")
                with gr.Row():
                    downloads = [gr.DownloadButton(f"Download {name}", visible=False, elem_id=f"download-{name}")
                                 for name in DOWNLOAD_FORMATS]
        clips = gr.State([])

        ellipse_inputs = [*start_sliders, *end_sliders, moving, width, height]
        for control in ellipse_inputs:
            control.input(None, [*ellipse_inputs, canvas], canvas, js=SLIDERS_TO_CANVAS_JS)
        canvas.edit(None, canvas, [*start_sliders, *end_sliders, moving], js=CANVAS_TO_SLIDERS_JS)
        background.input(None, background, None, js=SET_BACKGROUND_JS)
        moving.input(lambda is_moving: gr.Accordion(open=is_moving), moving, end_accordion, queue=False)
        # starting from an input, the ellipse fitted to its alpha is the placement that fits it by default
        start_choice.change(
            lambda chosen: (gr.Group(visible=chosen == "image"), gr.Group(visible=chosen in ("clip", "extend")),
                            gr.Slider(visible=chosen == "clip"),
                            gr.Radio(value="ellipse" if chosen == "text" else "input's alpha")),
            start_choice, [image_inputs, clip_inputs, strength, placement], queue=False)

        def show(clips: list[Clip], label: str | None):
            labels = [_clip_label(i, c) for i, c in enumerate(clips)]
            clip = clips[labels.index(label)] if label in labels else clips[0]
            return (clip.display, clip.display, clip.matte,
                    *(gr.DownloadButton(value=clip.files.get(name), visible=name in clip.files)
                      for name in DOWNLOAD_FORMATS))

        def run(text, negative_text, seed_value, steps_value, guidance_value, frames_value, fps_value, width_value,
                height_value, chosen, where, upload_path, start_from, image_path, matte_path, is_opaque,
                last_path, is_loop, clip_path, strength_value, is_moving, *ellipse_values,
                progress=gr.Progress()):  # fed per sampling step and per decoder pass (AppModel.generate)
            try:
                start = Ellipse(*ellipse_values[:5])
                end = Ellipse(*ellipse_values[5:]) if is_moving else None
                request = model.request(text, seed_value, steps_value, guidance_value, frames_value, width_value,
                                        height_value, fps_value, chosen, where, start, end, upload_path, negative_text,
                                        start_from, image_path, matte_path, is_opaque, last_path, is_loop, clip_path,
                                        strength_value)
                folder = Path(tempfile.mkdtemp(dir=workdir))
                made = model.generate(request, folder, lambda done, what: progress(done, desc=what))
            except WanAlphaError as err:
                raise gr.Error(str(err)) from err
            labels = [_clip_label(i, c) for i, c in enumerate(made)]
            return (made, gr.Dropdown(choices=labels, value=labels[0], visible=len(made) > 1), *show(made, labels[0]))

        outputs = [over_checker, over_colour, matte, *downloads]
        generate.click(
            run, [prompts, negative, seed, steps, guidance, frames, fps, width, height, formats, placement, upload,
                  start_choice, image, image_alpha, opaque_image, last_image, loop, clip, strength, moving,
                  *start_sliders, *end_sliders],
            [clips, shown, *outputs], concurrency_limit=1, concurrency_id="device")
        shown.input(show, [clips, shown], outputs)
    return page


def _ellipse_sliders(ellipse: Ellipse, which: str) -> list[gr.Slider]:
    ranges = {"cx": (0, 1, 0.01), "cy": (0, 1, 0.01), "w": (0.02, 1.5, 0.01), "h": (0.02, 1.5, 0.01),
              "angle": (-90, 90, 1)}
    labels = {"cx": "centre x (fraction of width)", "cy": "centre y (fraction of height)",
              "w": "width (fraction)", "h": "height (fraction)", "angle": "angle (degrees, clockwise)"}
    return [gr.Slider(*ranges[name][:2], value=value, step=ranges[name][2], label=labels[name],
                      elem_id=f"{which}-{name}")
            for name, value in zip(ranges, ellipse.as_tuple())]


def serve(model: str | os.PathLike | None = None, wan_files: WanAlphaFiles | None = None, *, host: str = "127.0.0.1",
          port: int | None = None, share: bool = False, device: str | None = None,
          memory: MemorySettings | None = None, sampler: str | None = None) -> None:
    """Load the model once, then serve the page until interrupted: one generation at a time (one device), on
    ``host`` (this machine only by default), public through Gradio's share link only with ``share``."""
    app_model = AppModel(model, wan_files, device, memory, sampler)
    with tempfile.TemporaryDirectory(prefix="wan-alpha-app-") as workdir:
        page = build_app(app_model, workdir)
        page.queue(default_concurrency_limit=1)
        page.launch(server_name=host, server_port=port, share=share, css=CSS, show_error=True)
