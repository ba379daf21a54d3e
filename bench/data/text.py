"""Text inputs: hashed words (the late-fusion baseline) and tokenisation with a local tokenizer.

Utterances arrive as ``Sample.sources["text"]`` strings from the adapters (MELD utterances,
MOSEI words joined, RAVDESS's two fixed statements) or as UTF-8 text files.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.transforms import Output, Transform, crop_fallbacks, crop_indices, positive, register
from bench.errors import ConfigError, DataError

_WORD = re.compile(r"[^\W_]+")

TOKENIZER_FILES: tuple[str, ...] = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
    "merges.txt", "spiece.model", "sentencepiece.bpe.model", "added_tokens.json",
)
"""The files of a model directory that define its tokenizer (hashed into the variant's identity)."""


def read_text(source: Path | str) -> str:
    """Inline text as is, or a UTF-8 text file's content."""
    if not isinstance(source, Path):
        return source
    try:
        return source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{source}: cannot read text ({error})") from error


@register
class TextHash(Transform):
    """Hashed word ids, the vocabulary-free text input of the late-fusion baseline.

    Lower-cases the text, splits it into words on every non-alphanumeric character (Unicode
    aware), maps each word to ``1 + crc32(utf8(word)) % (vocab_size - 1)`` (stable across runs
    and processes, unlike ``hash()``; 0 is padding) and truncates or zero-pads to
    ``max_tokens``. Takes inline text or a UTF-8 text file. Output int64 ``[max_tokens]``.
    """

    name = "text_hash"
    version = 1
    modality = "text"

    @dataclasses.dataclass(frozen=True)
    class Params:
        vocab_size: int = 4096
        max_tokens: int = 32

        def __post_init__(self) -> None:
            positive("text_hash", max_tokens=self.max_tokens)
            if self.vocab_size < 2:
                raise ConfigError(f"transform 'text_hash' parameter 'vocab_size' must be >= 2, got {self.vocab_size}")

    def run(self, source: Path | str) -> Output:
        words = _WORD.findall(read_text(source).lower())[: self.params.max_tokens]
        out = np.zeros(self.params.max_tokens, dtype=np.int64)
        for i, word in enumerate(words):
            out[i] = 1 + zlib.crc32(word.encode("utf-8")) % (self.params.vocab_size - 1)
        return Output(out)


@functools.lru_cache(maxsize=4)
def _load_tokenizer(model_dir: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir, local_files_only=True)


def _tokenizer_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in TOKENIZER_FILES:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@register
class TextTokens(Transform):
    """Token ids and attention mask from a local Hugging Face tokenizer directory.

    ``AutoTokenizer.from_pretrained(model_dir, local_files_only=True)`` — never a hub
    download. Each text is tokenised with the model's special tokens, truncated to
    ``max_length`` and padded to it with the tokenizer's pad id. Output int64 ``[2, max_length]``:
    row 0 the input ids, row 1 the attention mask (1 = token, 0 = padding). ConCluGen's code
    tokenises without truncation (``video_dataset.py`` L148); a fixed length is what lets a dataset's
    texts stack, so choose ``max_length`` above the longest utterance to reproduce it.
    ``describe()`` carries the sha256 of the tokenizer files, so a different tokenizer at the
    same path is a different variant.
    """

    name = "text_tokens"
    version = 1
    modality = "text"

    @dataclasses.dataclass(frozen=True)
    class Params:
        model_dir: str = ""
        max_length: int = 128

        def __post_init__(self) -> None:
            positive("text_tokens", max_length=self.max_length)
            if not self.model_dir:
                raise ConfigError("transform 'text_tokens' needs parameter 'model_dir' (a local tokenizer directory)")

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        folder = Path(params.model_dir).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"transform 'text_tokens': model_dir {params.model_dir!r} is not a directory")
        try:
            self.tokenizer = _load_tokenizer(str(folder.resolve()))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigError(
                f"transform 'text_tokens': model_dir {params.model_dir!r} holds no loadable tokenizer "
                f"(expected tokenizer.json or vocab files; {str(error).splitlines()[0]})"
            ) from None
        self.digest = _tokenizer_digest(folder)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "tokenizer_sha256": self.digest}

    def run(self, source: Path | str) -> Output:
        encoded = self.tokenizer(read_text(source), max_length=self.params.max_length, padding="max_length",
                                 truncation=True, return_attention_mask=True)
        return Output(np.asarray([encoded["input_ids"], encoded["attention_mask"]], dtype=np.int64))


class GloVeTable:
    """Word vectors of a GloVe text file (``word v_1 … v_d`` per line), read on demand.

    Opening scans the file once for each word's byte offset (about 2.2M words and a few hundred
    MB of index for ``glove.840B.300d.txt``); a vector is parsed when first asked for. Words are
    matched exactly (840B is cased); the first occurrence of a repeated word wins. A line with a
    wrong number of values, or a value that is not a number, is a DataError naming file and line.
    """

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim = path, dim
        self._offsets: dict[str, tuple[int, int]] = {}
        try:
            with path.open("rb") as handle:
                offset, number = 0, 0
                for number, line in enumerate(handle, 1):
                    word = line.split(b" ", 1)[0].decode("utf-8", errors="replace")
                    self._offsets.setdefault(word, (offset, number))
                    offset += len(line)
        except OSError as error:
            raise DataError(f"{path}: cannot read the GloVe vectors ({error})") from None
        if not self._offsets:
            raise DataError(f"{path}: no word vectors (expected lines 'word v_1 ... v_{dim}')")
        first = next(iter(self._offsets))
        self.vector(first)  # the dimension is checked on the first line, not on the first lookup

    def __contains__(self, word: str) -> bool:
        return word in self._offsets

    @functools.lru_cache(maxsize=200_000)  # noqa: B019 (one table per file, kept for the process)
    def vector(self, word: str) -> np.ndarray:
        """The vector of ``word`` (which must be in the table), float32 ``[dim]``."""
        offset, number = self._offsets[word]
        with self.path.open("rb") as handle:
            handle.seek(offset)
            fields = handle.readline().rstrip(b"\r\n").split(b" ")
        if len(fields) != self.dim + 1:
            raise DataError(f"{self.path}:{number}: expected a word and {self.dim} values, got "
                            f"{len(fields) - 1} values (is this a {self.dim}-d GloVe file?)")
        try:
            return np.asarray([float(v) for v in fields[1:]], dtype=np.float32)
        except ValueError:
            raise DataError(f"{self.path}:{number}: a value is not a number") from None


@functools.lru_cache(maxsize=2)
def _glove(path: str, dim: int, size: int, mtime_ns: int) -> GloVeTable:
    return GloVeTable(Path(path), dim)


def _file_digest(path: Path, edge: int = 1 << 20) -> str:
    """sha256 of (size, first MiB, last MiB): a content identity of a multi-GB vectors file
    that costs two reads instead of hashing it whole."""
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(edge))
        handle.seek(max(0, path.stat().st_size - edge))
        digest.update(handle.read(edge))
    return digest.hexdigest()


@register
class TextGloVe(Transform):
    """One GloVe vector per word of the utterance, MPUC's text input (CMU-MOSEI ``text_feat``).

    The utterance (MOSEI: the SDK words of the segment joined by spaces) is split on whitespace;
    each word becomes its vector from the local GloVe file ``vectors_path`` (MPUC: 300-d; never
    downloaded). A word not in the file gets zeros (the clip is recorded with the fallback
    ``oov_words_zero``); an utterance without words is one zero step (``no_words_zero``). Output
    float32 ``[words, dim]``; items are ``num_frames`` consecutive words (random start in
    training, start 0 in evaluation, wrap-around when shorter, counted as
    ``shorter_than_crop_wrapped``), MPUC's temporal crop (``crops`` such windows one after the other).
    MPUC's code crops text on the same step axis as the other modalities (its pickles are
    pre-aligned, ``data/CMU_MOSEI.py`` L205-235); words here have
    their own axis, so the text crop is drawn independently.
    """

    name = "text_glove"
    version = 1
    modality = "text"
    variable_length = True
    sampling_params = ("num_frames", "crops")

    @dataclasses.dataclass(frozen=True)
    class Params:
        vectors_path: str = ""
        dim: int = 300
        num_frames: int = 30
        crops: int = 1

        def __post_init__(self) -> None:
            positive("text_glove", dim=self.dim, num_frames=self.num_frames, crops=self.crops)
            if not self.vectors_path:
                raise ConfigError("transform 'text_glove' needs parameter 'vectors_path' (a local GloVe .txt file, "
                                  "e.g. glove.840B.300d.txt)")

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        path = Path(params.vectors_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"transform 'text_glove': vectors_path {params.vectors_path!r} is not a file")
        self.path = path.resolve()
        self.digest = _file_digest(self.path)

    @property
    def table(self) -> GloVeTable:
        stat = self.path.stat()
        return _glove(str(self.path), self.params.dim, stat.st_size, stat.st_mtime_ns)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "vectors_digest": self.digest}

    def run(self, source: Path | str) -> Output:
        words = read_text(source).split()
        if not words:
            return Output(np.zeros((1, self.params.dim), dtype=np.float32), ("no_words_zero",))
        table = self.table
        rows = [table.vector(w) if w in table else np.zeros(self.params.dim, dtype=np.float32) for w in words]
        missing = any(w not in table for w in words)
        return Output(np.stack(rows), ("oov_words_zero",) if missing else ())

    def sample(self, array: np.ndarray, train: bool, rng: np.random.Generator | None) -> np.ndarray:
        return np.asarray(array[crop_indices(len(array), self.params.num_frames, train, rng, self.params.crops)])

    def item_fallbacks(self, array: np.ndarray) -> tuple[str, ...]:
        return crop_fallbacks(len(array), self.params.num_frames)
