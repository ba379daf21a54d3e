"""The official code's downstream class weights (``src/callbacks/set_class_weights_on_model.py``, set
in ``configs/testing.yaml``), matched to a task by its label names.

* MELD: CE ``weight`` [4, 15, 15, 3, 1, 6, 3] for neutral, surprise, fear, sadness, joy,
  disgust, anger (``meld_datamodule.py`` L360, values from the MELD README);
* CMU-MOSEI: BCE ``pos_weight`` [1.05285, 5.21507, 5.33730, 19.48985, 7.04484, 23.68800] for
  happy, sad, anger, surprise, disgust, fear (``cmu_mosei_datamodule.py`` L527-529);
* CAER: CE weights = class count / total of the training side — proportional, not inverse,
  to frequency (``caer_video_datamodule.py`` L221-222).

Weights are looked up by label name, so a dataset read in another class order gets each
weight on its own class.
"""

from __future__ import annotations

import numpy as np

from bench.api import TaskSpec

MELD = {"neutral": 4.0, "surprise": 15.0, "fear": 15.0, "sadness": 3.0, "joy": 1.0, "disgust": 6.0, "anger": 3.0}
MOSEI = {"happy": 1.05285, "sad": 5.21507, "anger": 5.33730, "surprise": 19.48985, "disgust": 7.04484,
         "fear": 23.68800}
CAER = ("Anger", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")


def official_weights(task: TaskSpec, train_labels: np.ndarray) -> tuple[float, ...] | None:
    """The official weights for ``task`` (CAER's from ``train_labels``), else the task's own, else None."""
    names = task.label_names
    if task.kind == "classification" and set(names) == set(MELD):
        return tuple(MELD[n] for n in names)
    if task.kind == "multilabel" and set(names) == set(MOSEI):
        return tuple(MOSEI[n] for n in names)
    if task.kind == "classification" and set(names) == set(CAER):
        counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=len(names))
        return tuple(float(c) / float(counts.sum()) for c in counts)
    return task.class_weights
