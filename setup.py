"""ssltk: leverage self-supervised speech models (ESPnet-style recipes)."""

from pathlib import Path

from setuptools import find_packages, setup

install_requires = [
    "torch>=2.9",
    "torchaudio>=2.9",
    "kaldiio>=2.18",
    "sentencepiece>=0.2",
    "soundfile>=0.12",
    "numpy>=1.24",
    "pyyaml>=6.0",
    "typeguard>=4.0",
    "humanfriendly>=10.0",
    "tqdm>=4.60",
    "tensorboard>=2.14",
    "safetensors>=0.4",
]

extras_require = {
    "test": ["pytest>=8", "transformers>=4.40"],
    "espnet": ["espnet==202511", "espnet-s3prl==2026.5.14", "matplotlib>=3.5"],
    "synth": ["espeakng-loader>=0.2"],
    "prosody": ["librosa>=0.10"],  # the pitch track (ssltk.data.tracks.pitch: pYIN)
}

setup(
    name="ssltk",
    version="0.1.0",
    description="Toolkit for leveraging self-supervised speech models: hub, recipes, training",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["ssltk", "ssltk.*"]),
    # example configs, and the weights and model card of the shipped upstreams
    package_data={"ssltk": ["tasks/conf/*.yaml", "pretraining/conf/*.yaml", "upstream/weights/*.pt",
                           "upstream/weights/README.md"]},
    install_requires=install_requires,
    extras_require=extras_require,
    # A `python` stand-in for ESPnet recipes (asr.sh --python): see ssltk.espnet.run.
    entry_points={"console_scripts": ["ssltk-espnet-python = ssltk.espnet.run:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
