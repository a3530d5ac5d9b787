"""When a spoken question is over: by what was said, not only by how long the wearer has been quiet.

A fixed silence timeout has to be long enough for a speaker who pauses mid-sentence, so every question pays
it in full. A transcript that already reads as a whole command or question (a control, or a question whose
last word is not one that needs more after it) ends the utterance after a short pause instead; a transcript
that trails off ("which has the most", "how much protein is in the ...") waits the full timeout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eyeline.edge.voice.intents import normalize, parse_intent


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    complete_pause_ms: int = 200     # quiet after a complete question that ends the utterance
    decode_every_ms: int = 400       # new audio while speaking between partial transcripts
    pause_decode_ms: int = 96        # quiet that brings the partial transcript up to date at once


# Words after which an English question cannot end: articles, prepositions, conjunctions, auxiliaries,
# determiners and quantifiers that want a noun, possessives, and the question words themselves.
_DANGLING = frozenset("""
    a an the of in on at to for with from by about into onto than as and or but nor if so because
    is are was were be been am has have had does do did can could should would will shall may might must
    my your our their its his which what whose who whom where when why how
    most least more less much many some any every each no very too quite
    i we
    """.split())
_OPEN_CHOICE = re.compile(r"^(?:which|what)(?: one)? of (?:these|those|them|the)$")
_TRAILING_OFF = re.compile(r"(?:,|\.\.\.|…|-)\s*$")


def is_complete(text: str) -> bool:
    """Whether ``text`` reads as a whole command or question, so a short pause after it ends the utterance."""
    if _TRAILING_OFF.search(text.strip()):
        return False                       # the recogniser heard the voice trail off mid-sentence
    said = normalize(text)
    intent = parse_intent(text)
    if intent.kind == "ignore" or not said:
        return False                       # not (yet) anything for us: wait the full timeout
    if intent.kind != "ask":
        return True                        # controls and "think harder" are whole as said
    last = said.split()[-1]
    return last not in _DANGLING and not _OPEN_CHOICE.match(said) and len(said.split()) >= 2


def pause_needed_ms(text: str, config: EndpointConfig, silence_timeout_ms: int) -> int:
    """How long a pause after ``text`` must last to end the utterance."""
    return config.complete_pause_ms if is_complete(text) else silence_timeout_ms
