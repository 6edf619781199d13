"""Caption templates shared by the synthetic, emoji and matting sources."""

from __future__ import annotations

import re

CAPTION_PREFIX = "This video has a transparent background."
"""The reference release's prompts open with this sentence; keeping it matches its checkpoints."""

# (phrase, unit vector in image axes: x right, y down).
DIRECTIONS: tuple[tuple[str, tuple[float, float]], ...] = (
    ("to the right", (1.0, 0.0)),
    ("to the left", (-1.0, 0.0)),
    ("upward", (0.0, -1.0)),
    ("downward", (0.0, 1.0)),
    ("up and to the right", (0.7071, -0.7071)),
    ("up and to the left", (-0.7071, -0.7071)),
    ("down and to the right", (0.7071, 0.7071)),
    ("down and to the left", (-0.7071, 0.7071)),
)


def with_article(noun_phrase: str) -> str:
    """``"apple" -> "an apple"`` (by first letter, good enough for templated nouns)."""
    return f"{'an' if noun_phrase[:1].lower() in 'aeiou' else 'a'} {noun_phrase}"


def make_caption(sentence: str) -> str:
    """The full caption: prefix + the sentence, capitalised and ending in a full stop."""
    sentence = sentence.strip().rstrip(".")
    return f"{CAPTION_PREFIX} {sentence[:1].upper()}{sentence[1:]}."


def name_from_filename(stem: str) -> str:
    """``"red_fox-03"`` -> ``"red fox"``: a fallback subject when a matting set has no captions."""
    words = re.sub(r"[^A-Za-z]+", " ", stem).strip().lower()
    return words or "object"
