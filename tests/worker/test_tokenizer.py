import pytest

from worker.basemodel.tokenizer import build_merges, write_tokenizer_files
from worker.scenes.world import CAPTION_WORDS


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import CLIPTokenizer

    directory = tmp_path_factory.mktemp("tok")
    write_tokenizer_files(CAPTION_WORDS, directory, max_length=32)
    return CLIPTokenizer.from_pretrained(directory)


def test_every_caption_word_is_one_token(tokenizer):
    for word in CAPTION_WORDS:
        ids = tokenizer(word, add_special_tokens=False).input_ids
        assert len(ids) == 1, (word, tokenizer.convert_ids_to_tokens(ids))


def test_any_text_tokenizes_without_unknown_tokens(tokenizer):
    text = "a zebra 🦓 on the ice, größer!"
    ids = tokenizer(text).input_ids
    assert tokenizer.unk_token_id not in ids[1:-1]
    assert tokenizer.decode(ids, skip_special_tokens=True).replace(" ", "") == text.lower().replace(" ", "")


def test_merges_are_deterministic():
    assert build_merges(CAPTION_WORDS) == build_merges(list(reversed(CAPTION_WORDS)))
