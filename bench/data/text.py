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

from bench.data.transforms import Output, Transform, positive, register
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
    tokenises without truncation (REFERENCE 1.2-1.3); a fixed length is what lets a dataset's
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
