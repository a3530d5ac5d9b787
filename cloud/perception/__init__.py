"""Perception: the models that turn pixels into facts skills can reason over."""

from eyeline.cloud.perception.ocr import (
    AsyncTextReader,
    OcrBusyError,
    OcrEngine,
    OcrError,
    OcrPool,
    TextLine,
    TextReader,
)

__all__ = ["AsyncTextReader", "OcrBusyError", "OcrEngine", "OcrError", "OcrPool", "TextLine", "TextReader"]
