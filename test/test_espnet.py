"""ESPnet integration (ssltk.espnet) against the real ESPnet: ``frontend: ssltk`` trains
and decodes through the launcher, its features equal ssltk's own, and an exported
HuBERT loads in ESPnet's stock ``frontend: s3prl``.

ESPnet is the ``espnet`` extra, which ``make -C tools`` installs: without it these
tests fail (they do not skip).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ssltk import hub
from ssltk.errors import UserError
from ssltk.espnet import ESPNET_MISSING
from ssltk.featurizer import Featurizer

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "egs2/TEMPLATE/espnet1/conf/train_asr_ssltk_debug.yaml"
TEXTS = {"u1": "ab", "u2": "ba", "u3": "abc", "u4": "cab"}


@pytest.fixture(autouse=True)
def require_espnet():
    try:
        import espnet2  # noqa: F401
        import s3prl  # noqa: F401
    except ImportError as err:
        pytest.fail(f"{ESPNET_MISSING} ({err})")


def random_wavs(lengths, seed=0):
    rng = np.random.default_rng(seed)
    wavs = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        wavs[i, :n] = torch.from_numpy(0.1 * rng.standard_normal(n)).float()
    return wavs, torch.tensor(lengths)


def write_data(root: Path) -> Path:
    """A data dir as asr.sh's training stage reads it: wav.scp, text, shape files, tokens."""
    data = root / "data"
    data.mkdir()
    wavs, lens = random_wavs([6400, 8000, 9600, 11200])
    tables = {name: [] for name in ("wav.scp", "text", "speech_shape", "text_shape")}
    for (utt, text), wav, n in zip(TEXTS.items(), wavs, lens.tolist()):
        sf.write(data / f"{utt}.wav", wav[:n].numpy(), 16000, subtype="FLOAT")
        tables["wav.scp"].append(f"{utt} {data / utt}.wav")
        tables["text"].append(f"{utt} {text}")
        tables["speech_shape"].append(f"{utt} {n}")
        tables["text_shape"].append(f"{utt} {len(text)}")
    for name, lines in tables.items():
        (data / name).write_text("\n".join(lines) + "\n")
    chars = sorted(set("".join(TEXTS.values())))
    (data / "tokens.txt").write_text("\n".join(["<blank>", "<unk>", *chars, "<sos/eos>"]) + "\n")
    return data


def run_launcher(command: list[str], cwd: Path, log: str) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(cwd / log, "w") as out:
        proc = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    assert proc.returncode == 0, f"{' '.join(command[:4])} failed:\n" + (cwd / log).read_text()[-3000:]


def _training_args(data: Path) -> list[str]:
    """The arguments asr.sh adds to a config (training data, tokens, output)."""
    sets = []
    for split in ("train", "valid"):
        sets += [f"--{split}_data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                 f"--{split}_data_path_and_name_and_type", f"{data}/text,text,text",
                 f"--{split}_shape_file", f"{data}/speech_shape", f"--{split}_shape_file", f"{data}/text_shape"]
    return ["--output_dir", "exp", "--ngpu", "0", "--num_workers", "0", "--num_att_plot", "0",
            "--token_type", "char", "--token_list", f"{data}/tokens.txt", "--frontend_conf", "fs=16k",
            "--fold_length", "80000", "--fold_length", "150", *sets]


def test_espnet_trains_and_decodes_with_ssltk_frontend(tmp_path):
    data = write_data(tmp_path)
    # The arguments asr.sh adds to a config; training goes through `python -m ssltk.espnet.run`.
    run_launcher([sys.executable, "-m", "ssltk.espnet.run", "espnet2.bin.asr_train", "--config", str(CONFIG),
                  *_training_args(data)], tmp_path, "train.log")
    exp = tmp_path / "exp"
    assert (exp / "1epoch.pth").is_file() and (exp / "valid.loss.best.pth").exists()
    state = torch.load(exp / "1epoch.pth", map_location="cpu")
    assert "frontend.featurizer.logits" in state
    assert not torch.equal(state["frontend.featurizer.logits"], torch.zeros(3)), "weights did not train"
    frozen = hub.load("hubert_debug").state_dict()  # the upstream is saved, and did not change
    assert all(torch.equal(state[f"frontend.upstream.{k}"], v) for k, v in frozen.items())
    # Decoding through the console script, as asr.sh --python ssltk-espnet-python does.
    launcher = str(Path(sys.executable).parent / "ssltk-espnet-python")
    run_launcher([launcher, "-m", "espnet2.bin.asr_inference", "--asr_train_config", "exp/config.yaml",
                  "--asr_model_file", "exp/valid.loss.best.pth", "--output_dir", "decode",
                  "--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                  "--ngpu", "0", "--batch_size", "1", "--ctc_weight", "1.0", "--lm_weight", "0.0",
                  "--beam_size", "2"], tmp_path, "decode.log")
    lines = (tmp_path / "decode/1best_recog/text").read_text().splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(TEXTS)


def test_espnet_trains_every_peft_method_in_the_ssltk_frontend(tmp_path):
    """One ESPnet training run with every ssltk.peft method at once: each one's parameters
    train and are saved, the upstream's own weights stay as loaded."""
    import yaml

    data = write_data(tmp_path)
    config = yaml.safe_load(CONFIG.read_text())
    config["frontend_conf"]["peft"] = {
        "houlsby": {"bottleneck": 4}, "adapter_bias": {"placement": ["attn"]}, "bitfit": True,
        "lora": {"rank": 2, "targets": ["v_proj", "fc2"]}, "prefix": {"length": 2}, "prompt": {"length": 3}}
    (tmp_path / "peft.yaml").write_text(yaml.safe_dump(config))
    run_launcher([sys.executable, "-m", "ssltk.espnet.run", "espnet2.bin.asr_train",
                  "--config", str(tmp_path / "peft.yaml"), *_training_args(data)], tmp_path, "train.log")
    state = torch.load(tmp_path / "exp/1epoch.pth", map_location="cpu")
    layer = "frontend.upstream.encoder.layers.0."
    frozen = hub.load("hubert_debug").state_dict()
    # zero-initialised (houlsby, adapter_bias, lora) or loaded (bitfit) values that must move
    moved = {
        "houlsby": (layer + "ffn_adapter.up.weight", 0),
        "adapter_bias": (layer + "attn_adapter.alpha.weight", 0),
        "lora": (layer + "attention.v_proj.lora_b", 0),
        "bitfit": (layer + "ffn.fc1.bias", frozen["encoder.layers.0.ffn.fc1.bias"]),
    }
    for method, (key, start) in moved.items():
        assert (state[key] - start).abs().sum() > 0, f"{method}: {key} did not train"
    for key in (layer + "prefix.keys", "frontend.upstream.encoder.prompt.vectors"):  # random init
        assert key in state
    assert torch.equal(state[layer + "ffn.fc1.weight"], frozen["encoder.layers.0.ffn.fc1.weight"])
    assert torch.equal(state[layer + "attention.v_proj.base.weight"], frozen["encoder.layers.0.attention.v_proj.weight"])


@pytest.mark.parametrize("options", [dict(featurizer="weighted_sum", layer_norm=True),
                                     dict(featurizer="layer", layer=1)])
def test_frontend_features_equal_ssltk_extraction(tmp_path, options):
    from espnet2.torch_utils.initialize import initialize

    from ssltk.espnet.frontend import SSLTKFrontend

    weights = None
    if options["featurizer"] == "weighted_sum":
        weights = tmp_path / "weights.txt"
        weights.write_text("0.2\n0.3\n0.5\n")
    upstream = hub.load("hubert_debug")
    reference = Featurizer(upstream, mode=options["featurizer"], layer=options.get("layer", -1),
                           layer_norm=options.get("layer_norm", False), weights_path=weights)
    wavs, lens = random_wavs([8000, 5000])
    with torch.no_grad():
        hidden, ref_lens = upstream(wavs, lens)
        expected = reference(hidden)

    frontend = SSLTKFrontend("hubert_debug", fs="16k", weights_path=weights and str(weights), **options)
    assert frontend.output_size() == upstream.hidden_size
    frontend.train()  # as in ESPnet's training loop: a frozen upstream stays in eval mode
    assert not frontend.upstream.training
    feats, feats_lens = frontend(wavs, lens)
    assert torch.equal(feats_lens, ref_lens)
    assert (feats - expected).abs().max() <= 1e-5
    # Frozen: only the featurizer's weights train.
    trainable = [name for name, p in frontend.named_parameters() if p.requires_grad]
    assert trainable == (["featurizer.logits"] if weights else [])
    # ESPnet's `init:` re-initialises every parameter; the frontend restores its own.
    model = torch.nn.Module()
    model.frontend = frontend
    initialize(model, "xavier_uniform")
    initialize(model, "chainer")
    again, _ = frontend(wavs, lens)
    assert (again - expected).abs().max() <= 1e-5


def test_frontend_errors():
    from ssltk.espnet.frontend import SSLTKFrontend

    with pytest.raises(UserError, match="fs=8k.*16000 Hz"):
        SSLTKFrontend("hubert_debug", fs="8k")
    with pytest.raises(UserError, match="fs='fast': not a sample rate"):
        SSLTKFrontend("hubert_debug", fs="fast")
    with pytest.raises(UserError, match="featurizer='sum'"):
        SSLTKFrontend("hubert_debug", featurizer="sum")
    with pytest.raises(UserError, match="unknown upstream 'hubert_debgu'.*hubert_debug"):
        SSLTKFrontend("hubert_debgu")


def test_launcher_errors(capsys):
    from ssltk.espnet.run import main

    with pytest.raises(SystemExit) as exit_info:
        main(["espnet2.bin.asr_trian", "--config", "x.yaml"])
    assert "unknown entry point 'espnet2.bin.asr_trian'" in str(exit_info.value)
    assert "espnet2.bin.asr_train" in str(exit_info.value)  # the suggestion
    with pytest.raises(SystemExit, match="no such module"):
        main(["-m", "nosuchpackage.train"])
    with pytest.raises(SystemExit, match="give an ESPnet entry point"):
        main([])


def test_exported_hubert_loads_in_espnet_s3prl_frontend(tmp_path):
    from espnet2.asr.frontend.s3prl import S3prlFrontend

    from ssltk.upstream.fairseq_layout import save_s3prl_hubert

    # fairseq's HuBERT has a feature projection only when the CNN and encoder widths
    # differ (512 -> 768 in real models); hubert_debug's are both 32.
    with pytest.raises(ValueError, match="feature_projection=True"):
        save_s3prl_hubert(hub.load("hubert_debug"), tmp_path / "x.pt")
    upstream = hub.load("hubert_debug", feature_projection=False)
    path = save_s3prl_hubert(upstream, tmp_path / "hubert_debug.pt")
    conf = {"upstream": "hubert_local", "path_or_url": str(path)}  # as in an ESPnet config
    stock = S3prlFrontend(fs=16000, frontend_conf=conf, multilayer_feature=True).eval()
    # Equal lengths: fairseq's group norm would mix padding into shorter utterances.
    wavs, lens = random_wavs([8000, 8000], seed=1)
    with torch.no_grad():
        theirs, _ = stock.upstream(wavs, lens)  # every hidden state, as S3prlFrontend gets them
        ours, our_lens = upstream(wavs, lens)
        one_layer, _ = S3prlFrontend(frontend_conf=conf, layer=1).eval()(wavs, lens)
    frames = int(our_lens[0])  # s3prl counts ceil(samples / 320) frames, repeating the last
    assert len(theirs) == len(ours) == upstream.num_layers + 1
    for index, (a, b) in enumerate(zip(theirs, ours)):
        assert (a[:, :frames] - b[:, :frames]).abs().max() <= 1e-4, f"hidden state {index}"
    assert (one_layer[:, :frames] - ours[1][:, :frames]).abs().max() <= 1e-4


def test_launcher_registers_in_asr_and_slu():
    # Cheap here: the s3prl test above has imported most of ESPnet already.
    import ssltk.espnet.run  # noqa: F401 - importing it installs the registration
    from espnet2.tasks import asr, slu

    from ssltk.espnet.frontend import SSLTKFrontend

    for task in (asr, slu):
        assert task.frontend_choices.get_class("ssltk") is SSLTKFrontend
        assert "ssltk" in task.frontend_choices.choices()
