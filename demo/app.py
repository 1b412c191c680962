"""The Gradio Blocks page: prompt, Start/Stop, a streaming video, what the model knows, settings, video-to-video."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr

from demo.handlers import SOURCES, Handlers, Limits
from demo.live import LiveHub
from demo.metrics import ServerMetrics
from demo.models import ModelBank
from demo.previews import default_cache_dir, preview_clips
from demo.session import SessionStore
from demo.vocabulary import KNOWS, domain_markdown

# The examples gallery's prompts by the served models' world (v2's all in its training split: tests/demo/test_worlds.py)
EXAMPLES = {
    "v1": [
        "a red circle moving left on a dark background",
        "a blue square moving up",
        "a yellow triangle drifting right on a gray background",
        "a green diamond sliding down on a white background",
        "a magenta ball moving right and a cyan box moving up",
    ],
    "v2": [
        "a small red star spinning quickly and a big blue box moving slowly left on a white background",
        "a large yellow ball bouncing on a grassy meadow, with a static camera",
        "a small green triangle circling slowly on a checkered background, the camera still",
        "a small cyan cross moving quickly up and to the right over sand dunes, as the camera pans left",
        "a big purple diamond pulsing on a striped background, while the camera pans down",
        "a big orange star spinning slowly and a small magenta square moving down and a blue ball bouncing "
        "against the sky, as the camera pans right",
    ],
}
CSS = """
#title h1 { margin-bottom: 0; }
#untrained { border: 1px solid #d97706; background: #fffbeb; color: #92400e; border-radius: 8px; padding: 4px 12px; }
#stats { font-variant-numeric: tabular-nums; min-height: 1.6em; }
#save { white-space: nowrap; }
#prompt-check, #prompt-note { min-height: 0; }
/* the player chosen under the video is the one shown (demo/player.js sets data-player on Start) */
html[data-player="canvas"] #live-video { display: none !important; }
html[data-player="hls"] #live-canvas-block { display: none !important; }
#live-canvas-block { position: relative; padding: 0; }
#live-canvas { display: block; width: 100%; max-width: 500px; aspect-ratio: 1 / 1; margin: 0 auto; background: #111;
               border-radius: 8px; image-rendering: auto; }
#steering { position: absolute; top: 10px; left: 50%; transform: translateX(-50%); padding: 3px 12px; border-radius: 999px;
            background: rgba(79, 70, 229, 0.92); color: #fff; font-weight: 600; font-size: 14px; pointer-events: none;
            white-space: nowrap; }
#steering[hidden] { display: none; }
#player-mode { padding-top: 0; }
/* the video (128 or 256 px) fills its box, scaled up by the browser's smooth (bilinear) video scaler */
#live-video video { width: 100% !important; height: 100% !important; object-fit: contain; background: #111; }
#live-video { aspect-ratio: 1 / 1; height: auto !important; max-height: 500px; }
/* examples: a gallery of preview clips, each with its whole prompt under it (wrapped, never cut off) */
#examples label[data-testid="block-label"] { position: static; margin-bottom: 4px; }
#examples .grid-wrap { height: auto !important; max-height: none !important; min-height: 0 !important; overflow: visible; }
#examples .grid-container { padding-top: 0 !important; }
#examples .icon-button-wrapper { display: none; }
#examples .thumbnail-item { display: flex; flex-direction: column; height: auto !important; aspect-ratio: auto !important; }
#examples .thumbnail-item img { width: 100%; aspect-ratio: 1 / 1; height: auto; }
#examples .caption-label { position: static !important; transform: none !important; white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; max-width: 100% !important; width: 100%;
  text-align: left; font-size: 13px; line-height: 1.3; padding: 4px 6px; }
@media (max-width: 720px) {
  #steering { font-size: 12px; top: 6px; }
  /* phone: the prompt first, then the video and its buttons, then examples and settings */
  #main { flex-direction: column; }
  #video-col, #side-col { display: contents; }
  #prompt-block { order: 1; }
  #video-block { order: 2; }
  #extras { order: 3; }
}
"""
THEME = gr.themes.Soft(primary_hue="indigo")
PLAYER_JS = (Path(__file__).parent / "player.js").read_text()
PLAYERS = [("Live (frames as they are made)", "canvas"), ("Compatible (HLS video, seconds behind)", "hls")]
# Start: the canvas player opens its frame stream at the click and hands its token to the server
START_JS = "(seconds, player) => [seconds, window.streamditLive ? window.streamditLive.start() : '']"


def canvas_html(height: int, width: int) -> str:
    """The live player's canvas at the served frame size (demo/player.js sets it again from each stream's start)."""
    return (f'<canvas id="live-canvas" width="{width}" height="{height}" aria-label="Live video"></canvas>'
            '<div id="steering" role="status" hidden>Steering to the new prompt…</div>')


def intro(world: str) -> str:
    """The page's title and first paragraph (Markdown), naming what a model of ``world`` knows."""
    return ("# StreamDiT: real-time streaming text-to-video\n"
            "Press **Start**, then type a new prompt and press **Enter** (or click an example) to steer the playing "
            "video: with the distilled student the picture turns to the new prompt within about half a second (the "
            f"object may jump to a new place as it does). The model knows only {KNOWS[world]} "
            "(*What this model knows*, below).")


def guidance_info(models: ModelBank) -> str:
    """The guidance slider's explanation, with each model's own default."""
    defaults = []
    for option in models.options:
        value = models.get(option.label).config.guidance
        defaults.append(f"{'none' if not value else f'{value:g}'} for the {option.title or option.label}")
    return ("0 = the model's default (" + ", ".join(defaults) + "). Higher follows the prompt more closely "
            "but runs the model twice per frame.")


def launch_options(hub: LiveHub, metrics: ServerMetrics | None = None) -> dict[str, object]:
    """``launch`` keywords for the page built with ``hub`` (and ``metrics``): theme, CSS, the canvas player and
    its routes, and ``/healthz`` and ``/metrics``."""
    routes = hub.routes() + (metrics.routes() if metrics is not None else [])
    return dict(theme=THEME, css=CSS, head=f"<script>{PLAYER_JS}</script>", app_kwargs={"routes": routes})


def example_chooser(examples: list[str]) -> Callable[[gr.SelectData], str]:
    """The examples gallery's select handler: the prompt of the preview clicked."""
    def choose_example(event: gr.SelectData) -> str:
        return examples[event.index]
    return choose_example


def build_demo(models: ModelBank, limits: Limits = Limits(), store: SessionStore | None = None,
               hub: LiveHub | None = None, preview_dir: Path | None = None,
               metrics: ServerMetrics | None = None) -> gr.Blocks:
    """The demo page; ``launch(**launch_options(hub, metrics))`` it (same ``hub`` and ``metrics``) after
    ``queue()`` has been set up here. The examples, domain text and vocabulary check are those of the models'
    world (``ModelBank.world``); the examples' preview clips are made by the first model into ``preview_dir``
    (default: the user's cache) unless already there."""
    handlers = Handlers(models, store or SessionStore(), limits, hub, metrics)
    pipe, world = models.get(), models.world
    examples = EXAMPLES[world]
    clips = preview_clips(pipe, models.model_key(), examples, preview_dir or default_cache_dir())
    card = models.model_card()
    with gr.Blocks(title="StreamDiT: real-time text-to-video") as demo:
        gr.Markdown(intro(world), elem_id="title")
        if models.untrained:
            gr.Markdown("⚠️ **Untrained model: train or bundle one.** No trained model was found in "
                        "`streamdit/bundled/`, so this page runs a randomly initialised tiny model and shows "
                        "noise-like video. Pass `--model DIR` to serve a trained pipeline.", elem_id="untrained")
        with gr.Accordion("What this model knows", open=False, elem_id="about"):
            gr.Markdown(domain_markdown(world))
        ticket, player = gr.State(None), gr.State(None)
        player_token = gr.Textbox(visible=False)  # filled by START_JS
        timer = gr.Timer(1.0, active=False)
        with gr.Row(equal_height=False, elem_id="main"):
            with gr.Column(scale=3, elem_id="video-col"):
                with gr.Column(elem_id="video-block"):
                    gr.HTML(canvas_html(*pipe.resolution), elem_id="live-canvas-block", padding=False)
                    video = gr.Video(label="Live video", streaming=True, autoplay=True, interactive=False,
                                     height=420, elem_id="live-video")
                    stats = gr.Markdown("Idle: press Start.", elem_id="stats")
                    with gr.Row():
                        start = gr.Button("Start", variant="primary", elem_id="start", min_width=80)
                        stop = gr.Button("Stop", variant="stop", elem_id="stop", min_width=80)
                        save = gr.Button("Save mp4", elem_id="save", min_width=80)
                    saved = gr.File(label="Download", interactive=False, visible=False, elem_id="download")
                    gr.Radio(PLAYERS, value="canvas", label="Player", elem_id="player-mode", interactive=True,
                             info="Used from the next Start.")
            with gr.Column(scale=2, elem_id="side-col"):
                with gr.Column(elem_id="prompt-block"):
                    prompt = gr.Textbox(label="Prompt", value=examples[0], lines=1, max_lines=3,
                                        submit_btn="Apply", elem_id="prompt",
                                        info="Enter or Apply changes the playing video.")
                    check = gr.Markdown("", elem_id="prompt-check")
                    note = gr.Markdown("", elem_id="prompt-note")
                with gr.Column(elem_id="extras"):
                    gallery = gr.Gallery([(str(clip), text) for clip, text in zip(clips, examples)], columns=3,
                                          label="Examples: click one to use it (while streaming, it changes the video)",
                                          allow_preview=False, object_fit="contain", height="auto",
                                          elem_id="examples", interactive=False)
                    with gr.Accordion("Settings", open=True):
                        model = gr.Dropdown(models.choices(), value=models.labels[0], label="Model",
                                            info="× real time: how fast it makes video compared with playback, "
                                                 "measured on this server at start. Below 1× the video pauses.",
                                            interactive=True, elem_id="model")
                        seed = gr.Number(0, label="Seed", precision=0, minimum=0,
                                         info="The same seed and prompt give the same video.")
                        guidance = gr.Slider(0.0, 10.0, value=pipe.config.guidance or 0.0, step=0.5,
                                             label="Guidance", info=guidance_info(models))
                        seconds = gr.Slider(1, limits.max_seconds, value=limits.max_seconds, step=1,
                                            label="Length (seconds of video)")
                    with gr.Accordion("Start from a video (video-to-video)", open=False):
                        source = gr.Radio(list(SOURCES), value="text", label="Start from", elem_id="source")
                        with gr.Row():
                            upload = gr.Video(label="Your video", sources=["upload"], height=200, elem_id="upload")
                            webcam = gr.Image(label="Webcam", sources=["webcam"], streaming=True, type="numpy",
                                              height=200, elem_id="webcam")
                        strength = gr.Slider(0.05, 1.0, value=0.7, step=0.05, label="How much to change it",
                                             info="Low keeps your video, 1 ignores it.")
        if card is not None:
            with gr.Accordion("Model card: how the model was trained and how well it scores", open=False,
                              elem_id="model-card"):
                gr.Markdown(card)

        # join_line is callable by clients (undocumented) so that python -m demo.soak can press Start as the page does
        start.click(handlers.join_line, inputs=[seconds, player_token], outputs=[stats, ticket, timer, player],
                    js=START_JS, api_name="join_line", api_visibility="undocumented", concurrency_limit=None, show_progress="hidden",
                    trigger_mode="multiple").success(  # a refused Start (line full, bad token) starts nothing
            handlers.generate, inputs=[prompt, seed, guidance, model, source, upload, strength, seconds, ticket, player],
            outputs=[video, stats], api_name="generate", concurrency_limit=limits.max_streams,
            concurrency_id="stream", show_progress="hidden", trigger_mode="multiple")
        timer.tick(handlers.queue_notice, inputs=[ticket], outputs=[stats, timer], api_visibility="private",
                   concurrency_limit=None, show_progress="hidden")
        stop.click(handlers.stop, outputs=[stats], api_name="stop", concurrency_limit=None)
        prompt.change(handlers.check_typing, inputs=[prompt], outputs=[check], api_visibility="private",
                      concurrency_limit=None, show_progress="hidden", trigger_mode="always_last")
        prompt.submit(handlers.set_prompt, inputs=[prompt], outputs=[note], api_name="set_prompt",
                      concurrency_limit=None, show_progress="hidden")
        gallery.select(example_chooser(examples), outputs=[prompt], api_visibility="private", concurrency_limit=None,
                        show_progress="hidden").then(
            handlers.set_prompt, inputs=[prompt], outputs=[note], api_name="example_prompt",
            api_visibility="private", concurrency_limit=None, show_progress="hidden")
        model.change(handlers.model_chosen, inputs=[model], outputs=None, api_visibility="private",
                     concurrency_limit=None, show_progress="hidden")
        save.click(handlers.download, outputs=[saved], api_name="download", concurrency_limit=None).success(
            lambda: gr.File(visible=True), outputs=[saved], api_visibility="private")
        upload.upload(lambda: "upload", outputs=[source], api_visibility="private")
        webcam.stream(handlers.webcam_frame, inputs=[webcam], outputs=None, stream_every=0.25,
                      time_limit=int(limits.max_seconds) + 30, concurrency_limit=None, api_visibility="private")
        demo.unload(handlers.unload)
    # Gradio's queue holds the waiting streams and every other event: room for all of them beyond the line's cap
    demo.queue(max_size=None if limits.max_waiting is None else limits.max_streams + limits.max_waiting + 32)
    return demo
