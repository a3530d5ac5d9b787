"""Spoken commands: what was said, routed to an intent (a question for a skill, in a mode, or a control).

Routing is by phrase rules, not a model: the vocabulary of a glasses assistant is small, and rules are
predictable, fast and easy to extend. Text that is neither a known command nor a question is ignored, so
talk around the wearer does not turn into queries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

IntentKind = Literal["ask", "deepen", "next", "back", "repeat", "stop", "ignore"]


@dataclass(frozen=True, slots=True)
class Intent:
    kind: IntentKind
    text: str = ""           # the question to send (for "ask"), as said
    skill: str = ""          # the skill the question is for: "protein", "repair", "read"; "" = an open question
    mode: str = ""           # "", "thinking" or "contemplating"

    @property
    def makes_query(self) -> bool:
        return self.kind in ("ask", "deepen", "next", "back")


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


# Contemplating is checked first: "really think about it" also contains "think about it".
_CONTEMPLATING = _words(r"really think(?: hard)?(?: about (?:it|this|that))?", r"think (?:really|very) hard",
                        r"take your time", r"contemplate", r"deep(?:ly)? think", r"think deeply")
_THINKING = _words(r"think harder", r"think (?:about (?:it|this|that)|more|again|carefully)", r"look closer",
                   r"double check", r"are you sure")
_CONTROLS: dict[IntentKind, re.Pattern[str]] = {
    "next": re.compile(r"^(?:next(?: \w+)?|go on|continue|what'?s next|done)$"),
    "back": re.compile(r"^(?:back|go back|previous(?: step| one)?|step back|last step)$"),
    "repeat": re.compile(r"^(?:repeat(?: \w+)?|say (?:that|it) again|again|what did you say|come again)$"),
    "stop": re.compile(r"^(?:stop(?: it| talking)?|cancel|quiet|be quiet|shut up|never ?mind|enough|that'?s enough)$"),
}
_SKILLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("protein", _words(r"protein\w*", r"calorie\w*", r"sugar\w*", r"healthiest", r"nutrition\w*", r"fat",
                       r"salt\w*", r"sodium", r"fib(?:re|er)s?", r"carb\w*", r"kcal", r"kilo ?joules?",
                       r"saturate\w*")),
    ("repair", _words(r"descal\w*", r"repair\w*", r"fix\w*", r"unscrew\w*", r"screws?", r"disassembl\w*",
                      r"clean(?:ing)? (?:this|the|it)", r"how do i", r"how to", r"take (?:this|it) apart")),
    ("read", _words(r"read(?: me)?", r"what does (?:it|this|that) say", r"what'?s written", r"translate")),
)
COMMAND_PROMPT = ("Which of these has the most protein? How do I descale this? What does this say? Next step. "
                  "Go back. Repeat that. Think harder. Really think about it. Stop.")
"""Said to the recogniser before each utterance, so it leans towards the words of these commands."""

_QUESTION_START = re.compile(r"^(?:which|what|what's|who|where|when|why|how|is|are|can|could|does|do|did|should|"
                             r"will|would|tell me|show me|find|rank|compare)\b")
_FILLER = re.compile(r"^(?:(?:ok(?:ay)?|hey|so|um+|uh+|please|eyeline|and|now|well|alright|all right),? )+|"
                     r"(?:,? (?:please|thanks|thank you))+$")


def normalize(text: str) -> str:
    """Lower case, punctuation out (apostrophes kept), single spaces, leading fillers and trailing politeness off."""
    lowered = re.sub(r"[^\w\s']", " ", text.lower().replace("-", " "))
    spaced = " ".join(lowered.split())
    return _FILLER.sub("", spaced).strip()


def parse_intent(text: str) -> Intent:
    said = normalize(text)
    if not said:
        return Intent("ignore")
    for kind, pattern in _CONTROLS.items():
        if pattern.match(said):
            return Intent(kind)
    mode = _mode_of(said)
    question = _strip_mode(said) if mode else said
    skill = next((name for name, pattern in _SKILLS if pattern.search(question)), "")
    if skill or _QUESTION_START.match(question):
        return Intent("ask", text=text.strip(), skill=skill, mode=mode)
    if mode:   # "think harder", "really think about it": the last question again, deeper
        return Intent("deepen", mode=mode)
    return Intent("ignore")


def _mode_of(said: str) -> str:
    if _CONTEMPLATING.search(said):
        return "contemplating"
    if _THINKING.search(said):
        return "thinking"
    return ""


def _strip_mode(said: str) -> str:
    """What is left of the utterance once the mode phrase (and the glue around it) is taken out."""
    rest = _THINKING.sub(" ", _CONTEMPLATING.sub(" ", said))
    rest = re.sub(r"\b(?:and|but|please|then|so|now|ok(?:ay)?|about it|about this|on (?:it|this))\b", " ", rest)
    return " ".join(rest.split())
