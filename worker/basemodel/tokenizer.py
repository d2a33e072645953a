"""A CLIP byte-level BPE tokenizer whose vocabulary is the caption language's words.

CLIP's tokenizer is byte-level BPE: every byte has a token (and a word-final `</w>` form), so any
text tokenizes with no unknown token. On top of those we add merge chains that build each caption
word into a single token. BPE applies the lowest-ranked merge first, so one word's chain can break
another's; `build_merges` reorders the chains until every word comes out whole.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable unicode characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def _symbols(word: str) -> list[str]:
    chars = [bytes_to_unicode()[b] for b in word.encode("utf-8")]
    chars[-1] += "</w>"
    return chars


def _chain(word: str) -> list[tuple[str, str]]:
    """Left-to-right merges that build `word` into one token."""
    symbols = _symbols(word)
    merges, current = [], symbols[0]
    for nxt in symbols[1:]:
        merges.append((current, nxt))
        current += nxt
    return merges


def _apply_bpe(symbols: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    while len(symbols) > 1:
        pairs = [(ranks.get(pair, 1 << 30), i) for i, pair in enumerate(zip(symbols, symbols[1:], strict=False))]
        rank, i = min(pairs)
        if rank == 1 << 30:
            break
        symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2 :]
    return symbols


def build_merges(words: list[str]) -> list[tuple[str, str]]:
    """Merge list under which each word tokenizes to exactly one token."""
    order = sorted({w for w in words if len(w.encode()) > 1}, key=lambda w: (-len(w), w))
    for _ in range(10 * len(order)):
        merges: list[tuple[str, str]] = []
        for word in order:
            merges += [m for m in _chain(word) if m not in merges]
        ranks = {m: i for i, m in enumerate(merges)}
        broken = [w for w in order if len(_apply_bpe(_symbols(w), ranks)) != 1]
        if not broken:
            return merges
        order.remove(broken[0])
        order.insert(0, broken[0])
    raise RuntimeError(f"could not order merges so that every word is one token: {broken}")


def write_tokenizer_files(words: list[str], directory: Path, max_length: int) -> None:
    """Write vocab.json, merges.txt and the configs that CLIPTokenizer(Fast).from_pretrained reads."""
    directory.mkdir(parents=True, exist_ok=True)
    byte_tokens = list(bytes_to_unicode().values())
    merges = build_merges(words)
    vocab_list = byte_tokens + [t + "</w>" for t in byte_tokens] + ["".join(m) for m in merges]
    vocab_list += [BOS, EOS]
    vocab = {}
    for token in vocab_list:
        vocab.setdefault(token, len(vocab))
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    lines = ["#version: 0.2"] + [f"{a} {b}" for a, b in merges]
    (directory / "merges.txt").write_text("\n".join(lines) + "\n")
    special = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}
    (directory / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": max_length,
        "do_lower_case": True,
        **special,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
