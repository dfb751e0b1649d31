"""What readers' votes teach: text features of papers, a model per reader, and their scores (pure, no I/O).

`features` (TF-IDF, fitted once per day), `readers` (a classifier or nearest neighbours per
reader), `scoring` (every reader at once, in bounded chunks), `similar` (`like:` in profiles).
See docs/recommendations.md.
"""

from bot.recommend.features import PaperFeatures, day_features, fit_features
from bot.recommend.readers import CLASSIFIER, NEIGHBOURS, ReaderModel, fit_reader
from bot.recommend.scoring import MAX_SUGGESTIONS, THRESHOLDS, ReaderScores, Suggestion, score_readers
from bot.recommend.similar import LIKE_THRESHOLD, similar_papers

__all__ = ["CLASSIFIER", "LIKE_THRESHOLD", "MAX_SUGGESTIONS", "NEIGHBOURS", "THRESHOLDS", "PaperFeatures",
           "ReaderModel", "ReaderScores", "Suggestion", "day_features", "fit_features", "fit_reader",
           "score_readers", "similar_papers"]
