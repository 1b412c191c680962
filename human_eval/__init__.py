"""Human evaluation: blinded side-by-side rating server, vote storage and preference aggregation.

The public API is the study model (questions and the answers they accept, pairs, loading and writing a
study directory) and `strip_metadata` (a video copied without the metadata tags a study refuses); serving,
exporting and aggregating run through `python -m human_eval`, and their modules (`human_eval.export`,
`human_eval.aggregate`, `human_eval.report`) can be imported for the same from Python.
"""

from .media import strip_metadata
from .study import (BOTH_BAD, DEFAULT_QUESTIONS, MOVIE_GEN_QUESTIONS, NO_PREFERENCE, PREFERENCE, QUESTIONS, SIDES,
                    Answer, Pair, Question, Study, StudyError, build_pairs, load_study, write_pairs, write_study_file)

__all__ = [
    "Answer", "BOTH_BAD", "DEFAULT_QUESTIONS", "MOVIE_GEN_QUESTIONS", "NO_PREFERENCE", "PREFERENCE", "Pair",
    "QUESTIONS", "SIDES", "Question", "Study", "StudyError", "build_pairs", "load_study", "write_pairs",
    "strip_metadata", "write_study_file",
]
