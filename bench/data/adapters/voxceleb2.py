"""VoxCeleb2 dev set (Chung, Nagrani & Zisserman, INTERSPEECH 2018): unlabelled talking faces.

ConCluGen pretrains on it without labels (paper §4.1; the official datamodule offers only the
``train`` subset, ``voxceleb2_datamodule.py``); no paper evaluates on it. Layout as shipped
(the ``vox2_dev_mp4`` archive; not in ``../shared``)::

    <root>/dev/mp4/<idNNNNN>/<YouTube id>/<NNNNN>.mp4

The mp4 files carry the audio track too (the paper: the videos "also contain audio"), so both
``video`` and ``audio`` point at the mp4; ``text`` is the clip's transcript from the optional
``transcripts/`` tree (VoxCeleb2 ships no text: ConCluGen runs ASR on it), absent without it. Samples: ``id`` ``<idNNNNN>/<YouTube id>/<NNNNN>``,
``subject`` the speaker id, ``group`` the YouTube video (one video's clips never straddle a split,
even when two speakers share it), ``label`` None. The dataset has no emotion labels, but an
adapter must name a task and a :class:`~bench.api.TaskSpec` needs at least one label name: it
declares ``classification`` over the single placeholder name ``"unlabelled"``, so any stage that
asks for a label fails with "sample ... has no label" rather than training on something made up.
The dev set has 5,994 speakers, 145,569 videos and 1,092,009 clips (Chung et al. 2018); ConCluGen's
datamodule counts 549,984 mp4 files in its copy, so :meth:`VoxCeleb2.check` reports counts and
file problems but asserts no total.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import ClassVar

from bench.api import CheckReport, DatasetAdapter, Sample, TaskKind
from bench.errors import DataError

_SPEAKER = re.compile(r"^id\d{5}$")
_VIDEO = re.compile(r"^[A-Za-z0-9_-]{11}$")
_CLIP = re.compile(r"^\d{5}$")

LAYOUT = """\
<root>/dev/mp4/<idNNNNN>/<YouTube id>/<NNNNN>.mp4   video with its audio track (vox2_dev_mp4)
<root>/transcripts/<idNNNNN>/<YouTube id>/<NNNNN>.txt
                    optional (text): one UTF-8 transcript per clip, made by the user; ConCluGen
                    transcribes VoxCeleb2 with the ASR model facebook/s2t-large-librispeech-asr
                    (its src/utils/transcripts_util.py). When the folder exists every clip needs one."""


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    """The visible entries of ``folder``, by name."""
    with os.scandir(folder) as it:
        return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)


def _transcript(root: Path, speaker: str, video: str, stem: str) -> str | None:
    """The clip's transcript when ``transcripts/`` exists (None without it); a missing one is a DataError."""
    folder = root / "transcripts"
    if not folder.is_dir():
        return None
    path = folder / speaker / video / f"{stem}.txt"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise DataError(f"{path}: missing transcript of clip {speaker}/{video}/{stem} (transcripts/ exists, so "
                        "every clip needs one; remove the folder to pretrain without text)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: unreadable transcript ({error})") from None


def _scan(root: Path) -> tuple[list[Sample], list[str]]:
    """Every clip under ``dev/mp4`` and every path that breaks the layout."""
    base = root / "dev" / "mp4"
    if not base.is_dir():
        raise DataError(f"{base}: no such folder; VoxCeleb2 expects:\n{LAYOUT}")
    samples: list[Sample] = []
    problems: list[str] = []
    for speaker in _entries(base):
        if not (speaker.is_dir() and _SPEAKER.match(speaker.name)):
            problems.append(f"{speaker.path}: expected a speaker folder named idNNNNN")
            continue
        for video in _entries(Path(speaker.path)):
            if not (video.is_dir() and _VIDEO.match(video.name)):
                problems.append(f"{video.path}: expected a folder named by an 11-character YouTube id")
                continue
            for clip in _entries(Path(video.path)):
                stem, suffix = os.path.splitext(clip.name)
                if not (clip.is_file() and suffix == ".mp4" and _CLIP.match(stem)):
                    problems.append(f"{clip.path}: expected a clip named NNNNN.mp4")
                    continue
                path = Path(clip.path)
                sources: dict[str, Path | str] = {"video": path, "audio": path}
                text = _transcript(root, speaker.name, video.name, stem)
                if text is not None:
                    sources["text"] = text
                samples.append(Sample(
                    id=f"{speaker.name}/{video.name}/{stem}",
                    label=None,
                    sources=sources,
                    subject=speaker.name,
                    group=video.name,
                ))
    return samples, problems


class VoxCeleb2(DatasetAdapter):
    """VoxCeleb2 dev, unlabelled video + audio clips (+ transcripts when given) for ConCluGen's pretraining.

    See the module docstring for the layout and why the task is a one-name placeholder.
    """

    name = "voxceleb2"
    task: ClassVar[TaskKind] = "classification"
    label_names = ("unlabelled",)
    label_names_source = "none: VoxCeleb2 has no emotion labels (placeholder; every label is None)"
    modalities = ("video", "audio", "text")
    layout = LAYOUT

    def samples(self) -> list[Sample]:
        """Every dev clip, by speaker, video and clip number."""
        samples, problems = _scan(self.root)
        if problems:
            more = len(problems) - 1
            extra = f" (and {more} more; `bench prepare voxceleb2 --check` lists them)" if more else ""
            raise DataError(problems[0] + extra)
        if not samples:
            raise DataError(f"{self.root / 'dev' / 'mp4'}: no clips found; expected:\n{LAYOUT}")
        return samples

    def check(self) -> CheckReport:
        """Speaker, video and clip counts; every misnamed path and empty clip."""
        samples, problems = _scan(self.root)
        problems.extend(
            f"{s.sources['video']}: empty clip" for s in samples
            if isinstance(s.sources["video"], Path) and s.sources["video"].stat().st_size == 0
        )
        counts = {
            "speakers": len({s.subject for s in samples}),
            "videos": len({(s.subject, s.group) for s in samples}),
            "clips": len(samples),
        }
        return CheckReport(self.name, self.root, counts, tuple(problems))
