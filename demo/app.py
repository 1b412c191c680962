"""The Gradio Blocks page: prompt, Start/Stop, a streaming video, settings, video-to-video and live stats."""

from __future__ import annotations

import gradio as gr

from demo.handlers import SOURCES, Handlers, Limits
from demo.models import ModelBank
from demo.session import SessionStore

EXAMPLES = [
    "a red circle moving left on a dark background",
    "a blue square moving up",
    "a yellow triangle drifting right on a gray background",
    "a green diamond sliding down on a white background",
    "a magenta ball moving right and a cyan box moving up on a shaded background",
]
CSS = """
#title h1 { margin-bottom: 0; }
#untrained { border: 1px solid #d97706; background: #fffbeb; color: #92400e; border-radius: 8px; padding: 4px 12px; }
#stats { font-variant-numeric: tabular-nums; min-height: 1.6em; }
"""
THEME = gr.themes.Soft(primary_hue="indigo")


def build_demo(models: ModelBank, limits: Limits = Limits(), store: SessionStore | None = None) -> gr.Blocks:
    """The demo page; ``launch(theme=THEME, css=CSS)`` it after ``queue()`` has been set up here."""
    handlers = Handlers(models, store or SessionStore(), limits)
    pipe = models.get()
    with gr.Blocks(title="StreamDiT: real-time text-to-video") as demo:
        gr.Markdown("# StreamDiT: real-time streaming text-to-video\n"
                    "Press **Start**; while the video plays, edit the prompt and press **Enter** (or click an "
                    "example) to steer it live, from the next model evaluation on.", elem_id="title")
        if models.untrained:
            gr.Markdown("⚠️ **Untrained model: train or bundle one.** No trained model was found in "
                        "`streamdit/bundled/`, so this page runs a randomly initialised tiny model and shows "
                        "noise-like video. Pass `--model DIR` to serve a trained pipeline.", elem_id="untrained")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                video = gr.Video(label="Live video", streaming=True, autoplay=True, interactive=False,
                                 height=420, elem_id="live-video")
                stats = gr.Markdown("Idle: press Start.", elem_id="stats")
                with gr.Row():
                    start = gr.Button("Start", variant="primary", elem_id="start")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
                    save = gr.Button("Save mp4 so far", elem_id="save")
                saved = gr.File(label="Download", interactive=False, visible=False, elem_id="download")
            with gr.Column(scale=2):
                prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0], lines=1, max_lines=3, max_length=2000,
                                    submit_btn="Apply", elem_id="prompt")
                note = gr.Markdown("", elem_id="prompt-note")
                examples = gr.Examples(EXAMPLES, inputs=[prompt], label="Examples (click one while streaming to steer)")
                with gr.Accordion("Generation settings", open=True):
                    model = gr.Dropdown(models.labels, value=models.labels[0], label="Sampler setting (model)",
                                        info="distilled student: few steps per chunk; teacher: many", interactive=True)
                    seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                    guidance = gr.Slider(0.0, 10.0, value=pipe.sampler.guidance or 0.0, step=0.5, label="Guidance",
                                         info="0: the model's own setting (none for a distilled student)")
                    seconds = gr.Slider(1, limits.max_seconds, value=limits.max_seconds, step=1,
                                        label="Length (seconds of video)")
                with gr.Accordion("Video-to-video", open=False):
                    source = gr.Radio(list(SOURCES), value="text", label="Input", elem_id="source")
                    with gr.Row():
                        upload = gr.Video(label="Input video", sources=["upload"], height=200, elem_id="upload")
                        webcam = gr.Image(label="Webcam", sources=["webcam"], streaming=True, type="numpy",
                                          height=200, elem_id="webcam")
                    strength = gr.Slider(0.05, 1.0, value=0.7, step=0.05, label="Strength",
                                         info="noise added to the input: low keeps it, 1 ignores it")

        start.click(handlers.generate,
                    inputs=[prompt, seed, guidance, model, source, upload, strength, seconds],
                    outputs=[video, stats], api_name="generate", concurrency_limit=limits.max_streams,
                    concurrency_id="stream", show_progress="minimal", trigger_mode="multiple")
        stop.click(handlers.stop, outputs=[stats], api_name="stop", concurrency_limit=None)
        prompt.submit(handlers.set_prompt, inputs=[prompt], outputs=[note], api_name="set_prompt",
                      concurrency_limit=None, show_progress="hidden")
        examples.load_input_event.then(handlers.set_prompt, inputs=[prompt], outputs=[note], api_name="example_prompt",
                                       api_visibility="private", concurrency_limit=None, show_progress="hidden")
        save.click(handlers.download, outputs=[saved], api_name="download", concurrency_limit=None).success(
            lambda: gr.File(visible=True), outputs=[saved], api_visibility="private")
        upload.upload(lambda: "upload", outputs=[source], api_visibility="private")
        webcam.stream(handlers.webcam_frame, inputs=[webcam], outputs=None, stream_every=0.25,
                      time_limit=int(limits.max_seconds) + 30, concurrency_limit=None, api_visibility="private")
        demo.unload(handlers.unload)
    demo.queue(max_size=32)
    return demo
