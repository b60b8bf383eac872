"""``tokens.txt``: the output units of a CTC model, one a line, ids by line number."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError

BLANK = "<blank>"
UNK = "<unk>"
SOS_EOS = "<sos/eos>"
SPECIAL = (BLANK, UNK, SOS_EOS)


class UnknownTokenError(UserError):
    """A unit of a transcript is not in the token list (and may not become ``<unk>``)."""


class TokenList:
    """Token <-> id mapping; ``<blank>`` must be id 0.

    ``allow_unk``: map units missing from the list to ``<unk>`` (which must
    then be in the list); otherwise `encode` raises `UnknownTokenError`.
    """

    def __init__(self, tokens: Sequence[str], source: str = "token list"):
        self.tokens = list(tokens)
        self.source = source
        if not self.tokens or self.tokens[0] != BLANK:
            raise UserError(f"{source}: the first token must be {BLANK}")
        self.index: dict[str, int] = {}
        for i, tok in enumerate(self.tokens):
            if tok in self.index:
                raise UserError(f"{source}:{i + 1}: duplicate token '{tok}'")
            if not tok or any(c.isspace() for c in tok):
                raise UserError(f"{source}:{i + 1}: a token may not be empty or contain whitespace")
            self.index[tok] = i
        self.unk_id = self.index.get(UNK)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def blank_id(self) -> int:
        return 0

    @classmethod
    def read(cls, path: str | Path) -> "TokenList":
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise UserError(f"cannot read token list {path}: {e.strerror or e}") from None
        return cls([line.strip() for line in lines if line.strip()], str(path))

    def write(self, path: str | Path) -> None:
        write_text_atomic(path, "".join(f"{t}\n" for t in self.tokens))

    def encode(self, units: Iterable[str], allow_unk: bool = False, utt: str = "") -> list[int]:
        """Ids of ``units``; an unknown unit becomes ``<unk>`` or an error naming it."""
        ids = []
        for unit in units:
            i = self.index.get(unit)
            if i is None or (unit == UNK and not allow_unk):
                ids.append(self._unknown(unit, allow_unk, utt))
            else:
                ids.append(i)
        return ids

    def _unknown(self, unit: str, allow_unk: bool, utt: str) -> int:
        if allow_unk and self.unk_id is not None:
            return self.unk_id
        where = f"utterance '{utt}': " if utt else ""
        if unit == UNK:
            what = "maps to <unk> (a unit the tokenizer does not know)"
        else:
            what = f"token '{unit}' is not in {self.source}"
        fix = ("set asr.allow_unk: true to map it to <unk>" if self.unk_id is not None
               else f"the list has no {UNK} to map it to; rebuild the token list")
        raise UnknownTokenError(f"{where}{what}; {fix}")

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``, without ``<blank>`` and ``<sos/eos>``."""
        return [self.tokens[i] for i in ids if self.tokens[i] not in (BLANK, SOS_EOS)]
