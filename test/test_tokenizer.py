"""Token lists and tokenizers: char / word / phone / (bilingual) sentencepiece BPE, tokens CLI."""

import pytest

from ssltk.bin.tokens import main as tokens_main
from ssltk.data.datadir import write_table
from ssltk.errors import UserError
from ssltk.text import TokenList, UnknownTokenError, build_token_dir, load_token_dir

TEXT = {"u1": "abba cab", "u2": "cab", "u3": "a  b"}


def test_char_tokens_in_espnet_layout(tmp_path):
    write_table(tmp_path / "text", TEXT)
    tok = build_token_dir(tmp_path / "text", "char", tmp_path / "tok")
    # counts: a 5, b 5, c 2, <space> 2; ties by code point
    assert (tmp_path / "tok" / "tokens.txt").read_text().split() == [
        "<blank>", "<unk>", "a", "b", "<space>", "c", "<sos/eos>"]
    loaded = load_token_dir(tmp_path / "tok")
    assert loaded.type == "char" and loaded.table == "text"
    ids = loaded.encode("abba cab")
    assert ids == [2, 3, 3, 2, 4, 5, 2, 3]
    assert loaded.decode([0, *ids, 0]) == "abba cab"
    assert tok.decode(loaded.encode("a  b")) == "a b"


def test_unknown_units_are_errors_unless_allowed(tmp_path):
    write_table(tmp_path / "text", TEXT)
    tok = build_token_dir(tmp_path / "text", "char", tmp_path / "tok")
    with pytest.raises(UnknownTokenError, match=r"utterance 'x9': token 'z' is not in .*tokens.txt; "
                                                r"set asr.allow_unk: true"):
        tok.encode("abz", utt="x9")
    assert tok.encode("abz", allow_unk=True) == [2, 3, 1]
    no_unk = TokenList(["<blank>", "a"], "list.txt")
    with pytest.raises(UnknownTokenError, match="'b' is not in list.txt; the list has no <unk>"):
        no_unk.encode(["a", "b"], allow_unk=True)
    with pytest.raises(UserError, match="first token must be <blank>"):
        TokenList(["a", "<blank>"])


def test_word_and_phone_tokens(tmp_path):
    write_table(tmp_path / "text.phn", {"u1": "h e | l o", "u2": "l o"})
    tok = build_token_dir(tmp_path / "text.phn", "phone", tmp_path / "phn")
    assert tok.token_list.tokens == ["<blank>", "<unk>", "l", "o", "e", "h", "<sos/eos>"]
    assert load_token_dir(tmp_path / "phn").table == "text.phn"
    assert tok.decode(tok.encode("h e | l o")) == "h e l o"
    write_table(tmp_path / "text", {"u1": "go go home", "u2": "home"})
    words = build_token_dir(tmp_path / "text", "word", tmp_path / "w")
    assert words.token_list.tokens == ["<blank>", "<unk>", "go", "home", "<sos/eos>"]
    assert words.decode(words.encode("home go")) == "home go"


SENTENCES = ["the cat sat on the mat", "a cat and a hat", "the hat is on the cat",
             "that man has a tan hat", "an ant sat on a mat"]


def test_bpe_round_trip_and_unknown_characters(tmp_path):
    write_table(tmp_path / "text", {f"u{i}": s for i, s in enumerate(SENTENCES * 4)})
    assert tokens_main(["--text", str(tmp_path / "text"), "--type", "bpe", "--bpe_size", "24",
                        "--out", str(tmp_path / "bpe")]) == 0
    tok = load_token_dir(tmp_path / "bpe")
    tokens = tok.token_list.tokens
    assert (tmp_path / "bpe" / "bpe.model").is_file()
    assert len(tokens) == 24 + 2 and tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    for s in SENTENCES:
        assert tok.decode(tok.encode(s)) == s
    with pytest.raises(UnknownTokenError, match="utterance 'q': maps to <unk>"):
        tok.encode("the zebra", utt="q")
    assert tok.token_list.unk_id in tok.encode("the zebra", allow_unk=True)


def test_bilingual_bpe_is_the_union_of_two_models(tmp_path):
    text = {"u1": "ke batla computer", "u2": "dumela mma ke a go rata", "u3": "the computer is new",
            "u4": "ke rata laptop e ntsha", "u5": "re tla bona monday", "u6": "the laptop is on"}
    tags = {"u1": "tn tn en", "u2": "tn tn tn tn tn tn", "u3": "en en en en", "u4": "tn tn en tn tn",
            "u5": "tn tn tn en", "u6": "en en en en"}
    write_table(tmp_path / "text", text)
    write_table(tmp_path / "text.lang", tags)
    built = build_token_dir(tmp_path / "text", "bpe", tmp_path / "cs", bpe_size=24,
                            lang_tags=tmp_path / "text.lang")
    assert sorted(p.name for p in (tmp_path / "cs").glob("*.model")) == ["bpe.en.model", "bpe.tn.model"]
    loaded = load_token_dir(tmp_path / "cs")
    assert loaded.token_list.tokens == built.token_list.tokens
    assert loaded.needs_langs and loaded.lang_table == "text.lang"
    import sentencepiece as spm

    pieces = set()
    for lang in ("en", "tn"):
        sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "cs" / f"bpe.{lang}.model"))
        pieces |= {sp.id_to_piece(i) for i in range(1, sp.get_piece_size())}
    assert set(loaded.token_list.tokens[2:-1]) == pieces  # the union, each piece once
    for utt, t in text.items():
        ids = loaded.encode(t, tags[utt].split(), utt=utt)
        assert loaded.decode(ids) == t  # decoding needs no language tags
    with pytest.raises(UserError, match="utterance 'u9': 2 words but no language tags"):
        loaded.encode("ke batla", None, utt="u9")


def test_tokens_cli_errors(tmp_path, capsys):
    write_table(tmp_path / "text", {"u1": "ab"})
    with pytest.raises(SystemExit) as e:
        tokens_main(["--text", str(tmp_path / "text"), "--type", "bpe", "--bpe_size", "500",
                     "--out", str(tmp_path / "bpe")])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "sentencepiece training on the text failed: Vocabulary size too high (500)" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit):
        tokens_main(["--text", str(tmp_path / "nope"), "--type", "char", "--out", str(tmp_path / "c")])
    assert "nope: no such file" in capsys.readouterr().err
